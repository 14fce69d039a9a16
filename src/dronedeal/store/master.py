"""Master-data tables (parties, products, BOM, agreements, orders, licenses, FX rates)
and their version history.

A master record is one row in its typed table, kept at its latest version, plus one
`record_version` row per version ever imported, holding the record's canonical
document and the index of the log leaf that announced it. `version` on the typed row
always equals the highest version in `record_version` for that record. A document of
`null` in `record_version` records a removal (only BOM lines are ever removed: a pack
that lists a product's BOM replaces that product's BOM).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.core.money import decimal_text
from dronedeal.core.records import (
    Agreement,
    BomLine,
    Contribution,
    Flow,
    Fund,
    FxRate,
    License,
    MasterRecord,
    Order,
    Party,
    Product,
    Reciprocity,
)
from dronedeal.store.base import Base, ident

Id = ident()


class PartyRow(Base):
    __tablename__ = "party"
    party_id: Mapped[str] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    identifier: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)


class ProductRow(Base):
    __tablename__ = "product"
    product_id: Mapped[str] = mapped_column(Id, primary_key=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), index=True)
    #: catalog price in minor units of `currency`
    unit_price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    monthly_capacity: Mapped[int] = mapped_column(BigInteger)
    nsn: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)


class BomLineRow(Base):
    __tablename__ = "bom_line"
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"), primary_key=True)
    part_number: Mapped[str] = mapped_column(Id, primary_key=True)
    component_category: Mapped[str] = mapped_column(String(32))
    manufacturer: Mapped[str] = mapped_column(Text)
    manufacturer_country: Mapped[str] = mapped_column(String(2))
    origin_country: Mapped[str] = mapped_column(String(2))
    quantity: Mapped[int] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer)


class AgreementRow(Base):
    __tablename__ = "agreement"
    agreement_id: Mapped[str] = mapped_column(Id, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    #: ceiling in minor units of `currency`
    ceiling: Mapped[int] = mapped_column(BigInteger)
    signed_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    fund_party_id: Mapped[str | None] = mapped_column(ForeignKey("party.party_id"))
    reciprocity_numerator: Mapped[str | None] = mapped_column(Id)
    reciprocity_denominator: Mapped[str | None] = mapped_column(Id)
    reciprocity_min_ratio: Mapped[str | None] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)


class FlowRow(Base):
    __tablename__ = "agreement_flow"
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreement.agreement_id"), primary_key=True
    )
    flow_id: Mapped[str] = mapped_column(Id, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    end_user_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    seller_country: Mapped[str] = mapped_column(String(2))
    license_required: Mapped[bool] = mapped_column(Boolean)
    #: JSON list of category patterns (`uas.*`, `*`)
    categories: Mapped[str] = mapped_column(Text)
    #: JSON list of ruleset ids
    rulesets: Mapped[str] = mapped_column(Text)


class ContributionRow(Base):
    __tablename__ = "fund_contribution"
    agreement_id: Mapped[str] = mapped_column(
        ForeignKey("agreement.agreement_id"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    flow_id: Mapped[str] = mapped_column(Id)
    payer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    share: Mapped[str] = mapped_column(String(32))


class OrderRow(Base):
    __tablename__ = "purchase_order"
    __table_args__ = (
        ForeignKeyConstraint(
            ["agreement_id", "flow_id"], ["agreement_flow.agreement_id", "agreement_flow.flow_id"]
        ),
    )
    order_id: Mapped[str] = mapped_column(Id, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(Id, index=True)
    flow_id: Mapped[str] = mapped_column(Id)
    buyer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    supplier_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"), index=True)
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: minor units of `currency`
    unit_price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    due_on: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)


class LicenseRow(Base):
    __tablename__ = "export_license"
    license_id: Mapped[str] = mapped_column(Id, primary_key=True)
    authority_country: Mapped[str] = mapped_column(String(2))
    exporter_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"), index=True)
    end_user_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"), index=True)
    max_quantity: Mapped[int] = mapped_column(BigInteger)
    #: minor units of `currency`
    max_value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)


class FxRateRow(Base):
    __tablename__ = "fx_rate"
    date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    base: Mapped[str] = mapped_column(String(3), primary_key=True)
    quote: Mapped[str] = mapped_column(String(3), primary_key=True)
    #: exact decimal text: 1 base = rate quote
    rate: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)


class RecordVersionRow(Base):
    __tablename__ = "record_version"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    record_key: Mapped[str] = mapped_column(ident(200), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: canonical JSON of the record at this version; NULL when the record was removed
    document: Mapped[str | None] = mapped_column(Text)
    leaf_index: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# --- mapping between records and rows -------------------------------------------------

def _party_row(p: Party) -> dict[str, Any]:
    return {"party_id": p.party_id, "name": p.name, "kind": p.party_kind,
            "country": p.country, "identifier": p.identifier}


def _product_row(p: Product) -> dict[str, Any]:
    return {"product_id": p.product_id, "supplier_id": p.supplier_id, "name": p.name,
            "category": p.category, "unit_price": p.unit_price, "currency": p.currency,
            "monthly_capacity": p.monthly_capacity, "nsn": p.nsn}


def _bom_row(b: BomLine) -> dict[str, Any]:
    return {"product_id": b.product_id, "part_number": b.part_number,
            "component_category": b.component_category, "manufacturer": b.manufacturer,
            "manufacturer_country": b.manufacturer_country,
            "origin_country": b.origin_country, "quantity": b.quantity}


def _agreement_row(a: Agreement) -> dict[str, Any]:
    r = a.reciprocity
    return {"agreement_id": a.agreement_id, "title": a.title, "currency": a.currency,
            "ceiling": a.ceiling, "signed_on": a.signed_on, "ends_on": a.ends_on,
            "fund_party_id": a.fund.party_id if a.fund else None,
            "reciprocity_numerator": r.numerator_flow if r else None,
            "reciprocity_denominator": r.denominator_flow if r else None,
            "reciprocity_min_ratio": decimal_text(r.min_ratio) if r else None}


def _order_row(o: Order) -> dict[str, Any]:
    return {"order_id": o.order_id, "agreement_id": o.agreement_id, "flow_id": o.flow_id,
            "buyer_id": o.buyer_id, "supplier_id": o.supplier_id, "product_id": o.product_id,
            "quantity": o.quantity, "unit_price": o.unit_price, "currency": o.currency,
            "due_on": o.due_on}


def _license_row(lic: License) -> dict[str, Any]:
    return {"license_id": lic.license_id, "authority_country": lic.authority_country,
            "exporter_id": lic.exporter_id, "end_user_id": lic.end_user_id,
            "product_id": lic.product_id, "max_quantity": lic.max_quantity,
            "max_value": lic.max_value, "currency": lic.currency,
            "valid_from": lic.valid_from, "valid_to": lic.valid_to}


def _fx_row(f: FxRate) -> dict[str, Any]:
    return {"date": f.date, "base": f.base, "quote": f.quote, "rate": decimal_text(f.rate)}


_TABLES: dict[str, tuple[type[Base], Any]] = {
    "party": (PartyRow, _party_row),
    "product": (ProductRow, _product_row),
    "bom_line": (BomLineRow, _bom_row),
    "agreement": (AgreementRow, _agreement_row),
    "order": (OrderRow, _order_row),
    "license": (LicenseRow, _license_row),
    "fx_rate": (FxRateRow, _fx_row),
}

#: the order in which record kinds are written (references point backwards)
KIND_ORDER = ("party", "product", "bom_line", "agreement", "order", "license", "fx_rate")


def _key_filter(kind: str, key: str) -> list[Any]:
    row_type = _TABLES[kind][0]
    if kind == "bom_line":
        product_id, part_number = key.split("/", 1)
        return [BomLineRow.product_id == product_id, BomLineRow.part_number == part_number]
    if kind == "fx_rate":
        date, base, quote = key.split("/")
        return [FxRateRow.date == dt.date.fromisoformat(date), FxRateRow.base == base,
                FxRateRow.quote == quote]
    pk = row_type.__table__.primary_key.columns.values()[0]  # type: ignore[attr-defined]
    return [pk == key]


# --- repository -----------------------------------------------------------------------

def current_documents(session: Session, kind: str) -> dict[str, tuple[int, str | None]]:
    """key -> (latest version, canonical document or None if removed) for one kind."""
    latest = (
        select(RecordVersionRow.record_key, func.max(RecordVersionRow.version).label("v"))
        .where(RecordVersionRow.kind == kind)
        .group_by(RecordVersionRow.record_key)
        .subquery()
    )
    rows = session.execute(
        select(RecordVersionRow.record_key, RecordVersionRow.version, RecordVersionRow.document)
        .join(latest, (RecordVersionRow.record_key == latest.c.record_key)
              & (RecordVersionRow.version == latest.c.v))
        .where(RecordVersionRow.kind == kind)
    )
    return {key: (version, doc) for key, version, doc in rows}


def write_versions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append `record_version` rows (kind, record_key, version, document, leaf_index)."""
    if rows:
        now = dt.datetime.now(dt.UTC)
        session.execute(insert(RecordVersionRow), [{**r, "recorded_at": now} for r in rows])


def insert_records(
    session: Session, kind: str, items: Sequence[tuple[MasterRecord, int]]
) -> None:
    """Insert records of one kind that have no typed row yet, each at its version (bulk)."""
    if not items:
        return
    row_type, to_row = _TABLES[kind]
    session.execute(insert(row_type), [{**to_row(r), "version": v} for r, v in items])
    for record, _ in items:
        if isinstance(record, Agreement):
            _write_flows(session, record, existing=set())
            _write_contributions(session, record)


def update_record(session: Session, kind: str, record: MasterRecord, version: int) -> None:
    """Overwrite the typed row of an existing record with a new version."""
    row_type, to_row = _TABLES[kind]
    session.execute(
        update(row_type).where(*_key_filter(kind, record.key))
        .values(**to_row(record), version=version)
    )
    if isinstance(record, Agreement):
        existing = set(session.scalars(
            select(FlowRow.flow_id).where(FlowRow.agreement_id == record.agreement_id)))
        kept = {f.flow_id for f in record.flows}
        if existing - kept:
            session.execute(delete(FlowRow).where(
                FlowRow.agreement_id == record.agreement_id,
                FlowRow.flow_id.in_(sorted(existing - kept))))
        _write_flows(session, record, existing=existing & kept)
        session.execute(
            delete(ContributionRow).where(ContributionRow.agreement_id == record.agreement_id)
        )
        _write_contributions(session, record)


def remove_record(session: Session, kind: str, key: str) -> None:
    row_type = _TABLES[kind][0]
    session.execute(delete(row_type).where(*_key_filter(kind, key)))


def _write_flows(session: Session, a: Agreement, *, existing: set[str]) -> None:
    # Flows are updated in place, never deleted and re-inserted: orders point at them.
    for i, f in enumerate(a.flows):
        values = {"position": i, "buyer_id": f.buyer_id, "end_user_id": f.end_user_id,
                  "seller_country": f.seller_country, "license_required": f.license_required,
                  "categories": json.dumps(list(f.categories)),
                  "rulesets": json.dumps(list(f.rulesets))}
        if f.flow_id in existing:
            session.execute(update(FlowRow).where(
                FlowRow.agreement_id == a.agreement_id, FlowRow.flow_id == f.flow_id
            ).values(**values))
        else:
            session.execute(insert(FlowRow).values(
                agreement_id=a.agreement_id, flow_id=f.flow_id, **values))


def _write_contributions(session: Session, a: Agreement) -> None:
    if a.fund and a.fund.contributions:
        session.execute(insert(ContributionRow), [
            {"agreement_id": a.agreement_id, "position": i, "flow_id": c.flow_id,
             "payer_id": c.payer_id, "share": decimal_text(c.share)}
            for i, c in enumerate(a.fund.contributions)
        ])


def load_parties(session: Session) -> Iterator[Party]:
    for r in session.scalars(select(PartyRow).order_by(PartyRow.party_id)):
        yield Party(r.party_id, r.name, r.kind, r.country, r.identifier)


def load_products(session: Session) -> Iterator[Product]:
    for r in session.scalars(select(ProductRow).order_by(ProductRow.product_id)):
        yield Product(r.product_id, r.supplier_id, r.name, r.category, r.unit_price,
                      r.currency, r.monthly_capacity, r.nsn)


def load_bom(session: Session, product_ids: Iterable[str] | None = None) -> Iterator[BomLine]:
    query = select(BomLineRow).order_by(BomLineRow.product_id, BomLineRow.part_number)
    if product_ids is not None:
        query = query.where(BomLineRow.product_id.in_(list(product_ids)))
    for r in session.scalars(query):
        yield BomLine(r.product_id, r.part_number, r.component_category, r.manufacturer,
                      r.manufacturer_country, r.origin_country, r.quantity)


def load_agreements(session: Session, agreement_id: str | None = None) -> Iterator[Agreement]:
    """Stored agreements with their flows, fund and reciprocity, by id (only
    `agreement_id`'s when given)."""
    flow_query = select(FlowRow).order_by(FlowRow.agreement_id, FlowRow.position)
    contribution_query = select(ContributionRow).order_by(ContributionRow.agreement_id,
                                                          ContributionRow.position)
    agreement_query = select(AgreementRow).order_by(AgreementRow.agreement_id)
    if agreement_id is not None:
        flow_query = flow_query.where(FlowRow.agreement_id == agreement_id)
        contribution_query = contribution_query.where(
            ContributionRow.agreement_id == agreement_id)
        agreement_query = agreement_query.where(AgreementRow.agreement_id == agreement_id)
    flows: dict[str, list[Flow]] = {}
    for f in session.scalars(flow_query):
        flows.setdefault(f.agreement_id, []).append(Flow(
            f.flow_id, f.buyer_id, f.end_user_id, f.seller_country, f.license_required,
            tuple(json.loads(f.categories)), tuple(json.loads(f.rulesets))))
    contributions: dict[str, list[Contribution]] = {}
    for c in session.scalars(contribution_query):
        contributions.setdefault(c.agreement_id, []).append(
            Contribution(c.flow_id, c.payer_id, Decimal(c.share)))
    for a in session.scalars(agreement_query):
        fund = (Fund(a.fund_party_id, tuple(contributions.get(a.agreement_id, ())))
                if a.fund_party_id else None)
        reciprocity = (
            Reciprocity(a.reciprocity_numerator, a.reciprocity_denominator or "",
                        Decimal(a.reciprocity_min_ratio or "0"))
            if a.reciprocity_numerator else None
        )
        yield Agreement(a.agreement_id, a.title, a.currency, a.ceiling, a.signed_on, a.ends_on,
                        tuple(flows.get(a.agreement_id, ())), fund, reciprocity)


def load_agreement(session: Session, agreement_id: str) -> Agreement | None:
    """One stored agreement, or None."""
    return next(load_agreements(session, agreement_id), None)


def agreement_ids(session: Session) -> list[str]:
    """The ids of every stored agreement, sorted (for "no such agreement" messages)."""
    return list(session.scalars(select(AgreementRow.agreement_id)
                                .order_by(AgreementRow.agreement_id)))


def load_orders(session: Session) -> Iterator[Order]:
    for r in session.scalars(select(OrderRow).order_by(OrderRow.order_id)):
        yield Order(r.order_id, r.agreement_id, r.flow_id, r.buyer_id, r.supplier_id,
                    r.product_id, r.quantity, r.unit_price, r.currency, r.due_on)


def load_licenses(session: Session) -> Iterator[License]:
    for r in session.scalars(select(LicenseRow).order_by(LicenseRow.license_id)):
        yield License(r.license_id, r.authority_country, r.exporter_id, r.end_user_id,
                      r.product_id, r.max_quantity, r.max_value, r.currency, r.valid_from,
                      r.valid_to)


def load_fx_rates(session: Session) -> Iterator[FxRate]:
    for r in session.scalars(
        select(FxRateRow).order_by(FxRateRow.date, FxRateRow.base, FxRateRow.quote)
    ):
        yield FxRate(r.date, r.base, r.quote, Decimal(r.rate))


def history(session: Session, kind: str, key: str) -> list[RecordVersionRow]:
    """Every version of one record, oldest first."""
    return list(session.scalars(
        select(RecordVersionRow)
        .where(RecordVersionRow.kind == kind, RecordVersionRow.record_key == key)
        .order_by(RecordVersionRow.version)
    ))


def counts(session: Session) -> dict[str, int]:
    """Rows per master table, for summaries and tests."""
    return {
        kind: session.scalar(select(func.count()).select_from(row_type)) or 0
        for kind, (row_type, _) in _TABLES.items()
    }
