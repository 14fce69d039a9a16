"""Compliance tables and every query on them: evaluations, findings, license draw-downs.

`compliance_evaluation` records that one ruleset (at one content digest) was evaluated
on one product at one BOM digest — a SHA-256 over the product, its supplier's name and
country and its BOM lines, everything a rule can read. `compliance_finding` holds the
findings of that evaluation, each with its rule's effective window, so "findings on a
date" is a filter, not a re-evaluation. A BOM change gives a new digest, hence a new
evaluation; the old one stays as history with `is_current` false. The database keeps:
at most one current evaluation per (product, ruleset) (a partial unique index), one
finding per (evaluation, rule, part), and a known severity.

`license_drawdown` holds one row per draw on an export license: the reference of the
shipment or lot that drew, its quantity and value in the license's currency, its date.
The database keeps a positive quantity, a non-negative value and one draw per
(license, reference). Draws are never updated or deleted. `lock_licenses` takes the
row locks (PostgreSQL `SELECT … FOR UPDATE`) that make draw-downs serial; on SQLite the
`BEGIN IMMEDIATE` write transaction already serialises writers.

Ids are chosen by the client (`evaluation_id` is a hash of what was evaluated), so a
retried evaluation writes the same rows. Bulk paths run in chunks of `CHUNK` ids.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.core.compliance import Finding
from dronedeal.store.base import Base, ident
from dronedeal.store.db import is_sqlite
from dronedeal.store.master import BomLineRow, LicenseRow, PartyRow, ProductRow

#: ids per `IN (…)` and rows per insert batch
CHUNK: Final = 4_000
#: part_number of a product rule's finding (the column is part of the key, never NULL)
NO_PART: Final = ""

Id = ident()
_AUTO_ID = BigInteger().with_variant(Integer(), "sqlite")


class ComplianceEvaluationRow(Base):
    """One ruleset evaluated on one product's inputs."""

    __tablename__ = "compliance_evaluation"
    __table_args__ = (
        UniqueConstraint("product_id", "ruleset_id", "bom_digest", "ruleset_digest",
                         name="uq_compliance_evaluation_inputs"),
        Index("uq_compliance_evaluation_current", "product_id", "ruleset_id", unique=True,
              sqlite_where=text("is_current"), postgresql_where=text("is_current")),
        Index("ix_compliance_evaluation_ruleset", "ruleset_id", "is_current"),
    )
    #: hex SHA-256 (first 32 digits) of product, ruleset and both digests
    evaluation_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    ruleset_id: Mapped[str] = mapped_column(Id)
    #: hex SHA-256 of the product, its supplier's name and country and its BOM lines
    bom_digest: Mapped[str] = mapped_column(String(64))
    #: hex SHA-256 of the ruleset's canonical content
    ruleset_digest: Mapped[str] = mapped_column(String(64))
    #: BOM lines evaluated (for people reading the history)
    bom_lines: Mapped[int] = mapped_column(Integer)
    is_current: Mapped[bool] = mapped_column(Boolean)
    evaluated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ComplianceFindingRow(Base):
    """One rule violated by a product (part_number '') or one of its BOM lines."""

    __tablename__ = "compliance_finding"
    __table_args__ = (
        CheckConstraint("severity IN ('block', 'warn')", name="severity_known"),
        Index("ix_compliance_finding_product", "product_id", "ruleset_id"),
    )
    evaluation_id: Mapped[str] = mapped_column(
        ForeignKey("compliance_evaluation.evaluation_id"), primary_key=True)
    rule_id: Mapped[str] = mapped_column(Id, primary_key=True)
    part_number: Mapped[str] = mapped_column(Id, primary_key=True)
    product_id: Mapped[str] = mapped_column(Id)
    ruleset_id: Mapped[str] = mapped_column(Id)
    severity: Mapped[str] = mapped_column(String(8))
    citation: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    effective_from: Mapped[dt.date] = mapped_column(Date)
    effective_to: Mapped[dt.date | None] = mapped_column(Date)


class LicenseDrawdownRow(Base):
    """One draw on an export license; immutable."""

    __tablename__ = "license_drawdown"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("value >= 0", name="value_not_negative"),
        UniqueConstraint("license_id", "reference", name="uq_license_drawdown_reference"),
    )
    drawdown_id: Mapped[int] = mapped_column(_AUTO_ID, primary_key=True, autoincrement=True)
    license_id: Mapped[str] = mapped_column(ForeignKey("export_license.license_id"))
    #: the shipment or lot that drew (unique per license: a retry is recognised)
    reference: Mapped[str] = mapped_column(ident(200))
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: minor units of `currency`, the license's currency
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    drawn_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


EVALUATION_TABLE: Final = cast(Table, ComplianceEvaluationRow.__table__)
FINDING_TABLE: Final = cast(Table, ComplianceFindingRow.__table__)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- subjects: products and BOM lines as the rule engine reads them ---------------------

def load_subjects(
    session: Session, product_ids: Sequence[str] | None = None
) -> dict[str, tuple[tuple[Any, ...], list[tuple[Any, ...]]]]:
    """product_id -> (product tuple in `PRODUCT_INPUT` order, BOM line tuples in
    `COMPONENT_INPUT` order sorted by part number), for all products or `product_ids`."""
    product_query = (
        select(ProductRow.product_id, ProductRow.supplier_id, PartyRow.name,
               PartyRow.country, ProductRow.name, ProductRow.category, ProductRow.nsn,
               ProductRow.unit_price, ProductRow.currency, ProductRow.monthly_capacity)
        .join(PartyRow, PartyRow.party_id == ProductRow.supplier_id)
    )
    bom_query = select(
        BomLineRow.product_id, BomLineRow.part_number, BomLineRow.component_category,
        BomLineRow.manufacturer, BomLineRow.manufacturer_country, BomLineRow.origin_country,
        BomLineRow.quantity)
    subjects: dict[str, tuple[tuple[Any, ...], list[tuple[Any, ...]]]] = {}
    connection = session.connection()  # Core rows: no ORM layer on the bulk read
    if product_ids is None:
        for row in connection.execute(product_query.order_by(ProductRow.product_id)).all():
            subjects[row[0]] = (tuple(row), [])
        for line in connection.execute(bom_query.order_by(BomLineRow.product_id,
                                                          BomLineRow.part_number)).all():
            entry = subjects.get(line[0])
            if entry is not None:
                entry[1].append(tuple(line))
        return subjects
    wanted = sorted(set(product_ids))
    for chunk in _chunks(wanted):
        for row in connection.execute(
                product_query.where(ProductRow.product_id.in_(chunk))).all():
            subjects[row[0]] = (tuple(row), [])
        for line in connection.execute(
                bom_query.where(BomLineRow.product_id.in_(chunk))).all():
            subjects[line[0]][1].append(tuple(line))
    for _, lines in subjects.values():
        lines.sort(key=lambda line: line[1])
    return dict(sorted(subjects.items()))


# --- evaluations and findings -----------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StoredEvaluation:
    evaluation_id: str
    product_id: str
    bom_digest: str
    ruleset_digest: str
    is_current: bool


def evaluations_of(session: Session, ruleset_id: str,
                   product_ids: Sequence[str] | None = None) -> list[StoredEvaluation]:
    """Every stored evaluation of one ruleset (of some products), current or not."""
    query = select(ComplianceEvaluationRow.evaluation_id, ComplianceEvaluationRow.product_id,
                   ComplianceEvaluationRow.bom_digest, ComplianceEvaluationRow.ruleset_digest,
                   ComplianceEvaluationRow.is_current).where(
        ComplianceEvaluationRow.ruleset_id == ruleset_id)
    if product_ids is None:
        return [StoredEvaluation(*row) for row in session.execute(query)]
    out: list[StoredEvaluation] = []
    for chunk in _chunks(sorted(set(product_ids))):
        out.extend(StoredEvaluation(*row) for row in session.execute(
            query.where(ComplianceEvaluationRow.product_id.in_(chunk))))
    return out


#: columns of `compliance_finding` in the order the bulk path writes them
FINDING_COLUMNS: Final = ("evaluation_id", "rule_id", "part_number", "product_id",
                          "ruleset_id", "severity", "citation", "message", "effective_from",
                          "effective_to")


def insert_evaluations(session: Session, rows: Sequence[dict[str, Any]],
                       findings: Sequence[tuple[str, Finding]]) -> None:
    """Insert evaluations (not yet current) and their findings, in bulk.

    Rows: evaluation_id, product_id, ruleset_id, bom_digest, ruleset_digest, bom_lines.
    Findings: (evaluation_id, finding). The findings go through the driver's own bulk
    path — `executemany` on SQLite, `COPY` on PostgreSQL — since a fresh check of a big
    catalog writes a hundred thousand of them."""
    now = dt.datetime.now(dt.UTC)
    for chunk in _chunks(rows):
        session.execute(insert(EVALUATION_TABLE), [{**r, "is_current": False, "evaluated_at": now}
                                        for r in chunk])
    if not findings:
        return
    dialect = session.get_bind().dialect.name
    values = [(eid, f.rule_id, f.part_number or NO_PART, f.product_id, f.ruleset_id,
               f.severity, f.citation, f.message, f.effective_from, f.effective_to)
              for eid, f in findings]
    if dialect == "postgresql":
        driver = session.connection().connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(
                f"COPY compliance_finding ({', '.join(FINDING_COLUMNS)}) FROM STDIN") as copy:
            for value in values:
                copy.write_row(value)
    elif dialect == "sqlite":
        # Dates as ISO text, which is how SQLAlchemy's Date stores them on SQLite.
        session.connection().exec_driver_sql(
            f"INSERT INTO compliance_finding ({', '.join(FINDING_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in FINDING_COLUMNS)})",
            [(*v[:8], v[8].isoformat(), v[9].isoformat() if v[9] else None) for v in values])
    else:  # pragma: no cover - the two databases dronedeal supports are above
        session.execute(insert(FINDING_TABLE),
                        [dict(zip(FINDING_COLUMNS, v, strict=True)) for v in values])


def set_current(session: Session, *, retire: Sequence[str], promote: Sequence[str]) -> None:
    """Mark evaluations `retire` as history and `promote` as current (in that order, so
    the one-current-per-product index holds throughout)."""
    for chunk in _chunks(sorted(retire)):
        session.execute(update(ComplianceEvaluationRow)
                        .where(ComplianceEvaluationRow.evaluation_id.in_(chunk))
                        .values(is_current=False))
    for chunk in _chunks(sorted(promote)):
        session.execute(update(ComplianceEvaluationRow)
                        .where(ComplianceEvaluationRow.evaluation_id.in_(chunk))
                        .values(is_current=True))


def _finding(row: Any) -> Finding:
    product_id, ruleset_id, rule_id, part_number, severity, citation, message, start, end = row
    return Finding(product_id, ruleset_id, rule_id, part_number or None,
                   "block" if severity == "block" else "warn", citation, message, start, end)


_FINDING_COLUMNS = (ComplianceFindingRow.product_id, ComplianceFindingRow.ruleset_id,
                    ComplianceFindingRow.rule_id, ComplianceFindingRow.part_number,
                    ComplianceFindingRow.severity, ComplianceFindingRow.citation,
                    ComplianceFindingRow.message, ComplianceFindingRow.effective_from,
                    ComplianceFindingRow.effective_to)


def current_findings(
    session: Session, *, ruleset_ids: Iterable[str], product_ids: Sequence[str] | None = None,
    on: dt.date | None = None, blocking_only: bool = False,
) -> list[Finding]:
    """Findings of the current evaluations of `ruleset_ids` (of `product_ids`), in force
    `on` a date when one is given, in no particular order (callers sort once)."""
    query = (select(*_FINDING_COLUMNS)
             .join(ComplianceEvaluationRow, ComplianceEvaluationRow.evaluation_id
                   == ComplianceFindingRow.evaluation_id)
             .where(ComplianceEvaluationRow.is_current,
                    ComplianceFindingRow.ruleset_id.in_(sorted(set(ruleset_ids)))))
    if on is not None:
        query = query.where(ComplianceFindingRow.effective_from <= on,
                            or_(ComplianceFindingRow.effective_to.is_(None),
                                ComplianceFindingRow.effective_to >= on))
    if blocking_only:
        query = query.where(ComplianceFindingRow.severity == "block")
    connection = session.connection()  # Core rows: no ORM layer on the bulk read
    if product_ids is None:
        return [_finding(row) for row in connection.execute(query).all()]
    found: list[Finding] = []
    for chunk in _chunks(sorted(set(product_ids))):
        found.extend(_finding(row) for row in connection.execute(
            query.where(ComplianceFindingRow.product_id.in_(chunk))).all())
    return found


@dataclass(frozen=True, slots=True)
class EvaluationHistory:
    evaluation_id: str
    ruleset_id: str
    bom_digest: str
    ruleset_digest: str
    bom_lines: int
    is_current: bool
    evaluated_at: dt.datetime
    findings: tuple[Finding, ...]


def evaluation_history(session: Session, product_id: str) -> list[EvaluationHistory]:
    """Every evaluation of one product, oldest first, each with its findings."""
    evaluations = list(session.execute(
        select(ComplianceEvaluationRow).where(ComplianceEvaluationRow.product_id == product_id)
        .order_by(ComplianceEvaluationRow.evaluated_at, ComplianceEvaluationRow.ruleset_id,
                  ComplianceEvaluationRow.evaluation_id)).scalars())
    by_evaluation: dict[str, list[Finding]] = {}
    for row in session.execute(
        select(ComplianceFindingRow.evaluation_id, *_FINDING_COLUMNS)
        .where(ComplianceFindingRow.product_id == product_id)
        .order_by(ComplianceFindingRow.rule_id, ComplianceFindingRow.part_number)
    ):
        by_evaluation.setdefault(row[0], []).append(_finding(row[1:]))
    return [EvaluationHistory(e.evaluation_id, e.ruleset_id, e.bom_digest, e.ruleset_digest,
                              e.bom_lines, e.is_current, e.evaluated_at,
                              tuple(by_evaluation.get(e.evaluation_id, ())))
            for e in evaluations]


def lock_evaluations(session: Session) -> None:
    """Serialise evaluation writers: a PostgreSQL transaction-scoped advisory lock (two
    checks at once would insert the same client-chosen ids); SQLite's `BEGIN IMMEDIATE`
    already serialises writers."""
    if not is_sqlite(session):
        session.execute(text("SELECT pg_advisory_xact_lock(4848484848)"))


# --- license draw-downs -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class StoredDraw:
    license_id: str
    reference: str
    quantity: int
    value: int
    drawn_on: dt.date


def lock_licenses(session: Session, license_ids: Iterable[str]) -> list[LicenseRow]:
    """The licenses, locked against concurrent draw-downs until the transaction ends
    (`FOR UPDATE` on PostgreSQL, in id order so two bulk draws cannot deadlock)."""
    ids = sorted(set(license_ids))
    rows: list[LicenseRow] = []
    for chunk in _chunks(ids):
        query = (select(LicenseRow).where(LicenseRow.license_id.in_(chunk))
                 .order_by(LicenseRow.license_id))
        if not is_sqlite(session):
            query = query.with_for_update()
        # populate_existing: a locked read must not be answered from the identity map
        rows.extend(session.scalars(query.execution_options(populate_existing=True)))
    return rows


def drawn_totals(session: Session, license_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """license_id -> (quantity drawn, value drawn) so far."""
    totals: dict[str, tuple[int, int]] = {}
    for chunk in _chunks(sorted(set(license_ids))):
        for license_id, quantity, value in session.execute(
            select(LicenseDrawdownRow.license_id, func.sum(LicenseDrawdownRow.quantity),
                   func.sum(LicenseDrawdownRow.value))
            .where(LicenseDrawdownRow.license_id.in_(chunk))
            .group_by(LicenseDrawdownRow.license_id)
        ):
            totals[license_id] = (int(quantity or 0), int(value or 0))
    return totals


def draws_by_reference(session: Session,
                       keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], StoredDraw]:
    """Stored draws for (license_id, reference) keys, to recognise retries."""
    wanted: dict[str, set[str]] = {}
    for license_id, reference in keys:
        wanted.setdefault(license_id, set()).add(reference)
    out: dict[tuple[str, str], StoredDraw] = {}
    for license_id, references in wanted.items():
        for chunk in _chunks(sorted(references)):
            for row in session.execute(
                select(LicenseDrawdownRow.license_id, LicenseDrawdownRow.reference,
                       LicenseDrawdownRow.quantity, LicenseDrawdownRow.value,
                       LicenseDrawdownRow.drawn_on)
                .where(LicenseDrawdownRow.license_id == license_id,
                       LicenseDrawdownRow.reference.in_(chunk))
            ):
                out[(row[0], row[1])] = StoredDraw(*row)
    return out


def insert_draws(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Append draw rows: license_id, reference, quantity, value, currency, drawn_on."""
    now = dt.datetime.now(dt.UTC)
    for chunk in _chunks(rows):
        session.execute(insert(LicenseDrawdownRow), [{**r, "recorded_at": now} for r in chunk])


def license_rows(session: Session, product_id: str | None = None) -> list[LicenseRow]:
    query = select(LicenseRow).order_by(LicenseRow.license_id)
    if product_id is not None:
        query = query.where(LicenseRow.product_id == product_id)
    return list(session.scalars(query))
