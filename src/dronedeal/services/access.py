"""Who may read what (SPEC §8): role capabilities and row-level scopes, and the scoped
listings and look-ups the REST API serves (and the CLI may use).

Roles. `admin` and `auditor` read everything (only `admin` writes); `officer` acts for
one state party and reads the agreements in which that party is a flow's buyer or end
user, with their orders, cases, payments, positions and ledger; `manufacturer` reads its
own products, BOMs, orders, shipments (lots, units), licenses it exports under, cases
and payments it is a party to; `inspector` acts for one buyer party and reads that
buyer's orders and their shipments; the public (no user) reads nothing here.

Invariants: every listing and look-up takes the viewer and applies its scope in the
query, so a route cannot forget it; a capability a role lacks is `ForbiddenError`
(403), a record outside the viewer's scope is `NotVisibleError` (404), exactly like a
record that does not exist, so that existence is never disclosed. Listings are keyset
pages in key order: `after` is the last key of the previous page, and at most `limit`
items come back with the key of the last one when more may follow.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from operator import itemgetter
from typing import Any, Final, TypeVar

from sqlalchemy import ColumnElement, Row, Select, and_, case, func, or_, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from dronedeal.core.compliance import Finding
from dronedeal.core.licenses import Remaining
from dronedeal.core.money import format_amount
from dronedeal.core.records import Agreement
from dronedeal.services import licenses
from dronedeal.services.compliance import check
from dronedeal.services.users import User
from dronedeal.store import log, master, tallies
from dronedeal.store.compliance import current_findings
from dronedeal.store.events import (
    PAYMENT,
    CaseDeliveryRow,
    CaseLineRow,
    InspectionRow,
    PaymentRow,
    ShipmentRow,
)
from dronedeal.store.ledger import stream_transfers
from dronedeal.store.log import LogLeaf
from dronedeal.store.master import FlowRow, LicenseRow, OrderRow, PartyRow, ProductRow
from dronedeal.store.tallies import TALLY

#: a page holds at most this many items
MAX_LIMIT: Final = 500
#: a lot look-up lists at most this many serials
LOT_SERIALS: Final = 1000

ALL_ROLES: Final = frozenset({"admin", "auditor", "officer", "manufacturer", "inspector"})
_DEAL_OFFICE: Final = frozenset({"admin", "auditor", "officer"})

#: capability -> roles that have it (the public has none of these)
CAPABILITIES: Final[dict[str, frozenset[str]]] = {
    "parties": ALL_ROLES,
    "products": ALL_ROLES,
    "agreements": _DEAL_OFFICE,
    "orders": ALL_ROLES,
    "licenses": frozenset({"admin", "auditor", "officer", "manufacturer"}),
    "lots": ALL_ROLES,
    "units": ALL_ROLES,
    "cases": frozenset({"admin", "auditor", "officer", "manufacturer"}),
    "payments": frozenset({"admin", "auditor", "officer", "manufacturer"}),
    "findings": ALL_ROLES,
    "reports": _DEAL_OFFICE,
    "allocations": frozenset({"admin", "officer"}),
    "transfers": _DEAL_OFFICE,
    "imports": ALL_ROLES - {"auditor"},
    "audit_leaves": frozenset({"admin", "auditor"}),
    "ocds_auditor": _DEAL_OFFICE,
    "users": frozenset({"admin"}),
}


class AccessError(Exception):
    """A request the viewer may not make; carries its HTTP status."""

    http_status = 403


class NotAuthenticatedError(AccessError):
    """The public asked for something only a user may read."""

    http_status = 401


class ForbiddenError(AccessError):
    """The viewer's role lacks the capability."""

    http_status = 403


class NotVisibleError(AccessError, LookupError):
    """No such record, or none the viewer may see (the two are not told apart)."""

    http_status = 404


Key = tuple[Any, ...]
AnySelect = Select[*tuple[Any, ...]]
_Q = TypeVar("_Q", bound=AnySelect)
Page = tuple[list[dict[str, Any]], Key | None]


def require(viewer: User | None, capability: str) -> User:
    """The viewer, if its role has `capability`; else NotAuthenticated or Forbidden."""
    roles = CAPABILITIES[capability]
    if viewer is None:
        raise NotAuthenticatedError(f"reading {capability} needs a bearer token")
    if viewer.role not in roles:
        raise ForbiddenError(f"a user of role {viewer.role} may not read {capability}")
    return viewer


def _party(viewer: User) -> str:
    assert viewer.party_id is not None, f"a user of role {viewer.role} acts for a party"
    return viewer.party_id


# --- scopes: None means every row --------------------------------------------------------

def officer_agreements(party_id: str) -> Select[str]:
    """Ids of the agreements where `party_id` is a flow's buyer or end user."""
    return (select(FlowRow.agreement_id)
            .where(or_(FlowRow.buyer_id == party_id, FlowRow.end_user_id == party_id))
            .distinct())


def order_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role == "officer":
        return OrderRow.agreement_id.in_(officer_agreements(_party(viewer)))
    if viewer.role == "manufacturer":
        return OrderRow.supplier_id == _party(viewer)
    if viewer.role == "inspector":
        return OrderRow.buyer_id == _party(viewer)
    return None


def _visible_orders(viewer: User) -> Select[str] | None:
    scope = order_scope(viewer)
    return None if scope is None else select(OrderRow.order_id).where(scope)


def product_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role == "manufacturer":
        return ProductRow.supplier_id == _party(viewer)
    if viewer.role == "inspector":
        return ProductRow.product_id.in_(
            select(OrderRow.product_id).where(OrderRow.buyer_id == _party(viewer)))
    return None


def party_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role in ("manufacturer", "inspector"):
        return or_(PartyRow.kind != "manufacturer", PartyRow.party_id == _party(viewer))
    return None


def license_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role == "officer":
        return or_(LicenseRow.end_user_id == _party(viewer),
                   LicenseRow.authority_country == viewer.country)
    if viewer.role == "manufacturer":
        return LicenseRow.exporter_id == _party(viewer)
    return None


def case_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role == "officer":
        return CaseLineRow.agreement_id.in_(officer_agreements(_party(viewer)))
    if viewer.role == "manufacturer":
        return or_(CaseLineRow.seller_id == _party(viewer),
                   CaseLineRow.buyer_id == _party(viewer))
    return None


def payment_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role == "officer":
        return PaymentRow.agreement_id.in_(officer_agreements(_party(viewer)))
    if viewer.role == "manufacturer":
        return or_(PaymentRow.payer_id == _party(viewer), PaymentRow.payee_id == _party(viewer))
    return None


def shipment_scope(viewer: User) -> ColumnElement[bool] | None:
    if viewer.role == "manufacturer":
        return ShipmentRow.manufacturer_id == _party(viewer)
    orders = _visible_orders(viewer)
    return None if orders is None else ShipmentRow.order_id.in_(orders)


def agreement_ids(session: Session, viewer: User) -> set[str] | None:
    """The agreements the viewer reads (None: all)."""
    if viewer.role == "officer":
        return set(session.scalars(officer_agreements(_party(viewer))))
    return None


def require_agreement(session: Session, viewer: User | None, agreement_id: str,
                      capability: str) -> Agreement:
    """The agreement, if the viewer has `capability` on it; NotVisibleError otherwise."""
    user = require(viewer, capability)
    visible = agreement_ids(session, user)
    if visible is not None and agreement_id not in visible:
        raise NotVisibleError(f"no agreement {agreement_id!r} you may read")
    found = master.load_agreement(session, agreement_id)
    if found is None:
        raise NotVisibleError(f"no agreement {agreement_id!r} you may read")
    return found


def last_recorded(session: Session) -> dt.datetime | None:
    """When the log last grew (its latest checkpoint): the stable `published` time of a
    report, so that the same data gives the same document (and ETag)."""
    latest = log.latest_checkpoint(session)
    return None if latest is None else latest.created_at


# --- imports ---------------------------------------------------------------------------

#: log leaf kinds a role's import may append (None: any); inspections post acceptances
IMPORT_KINDS: Final[dict[str, frozenset[str] | None]] = {
    "admin": None,
    "officer": None,
    "manufacturer": frozenset({"shipment"}),
    "inspector": frozenset({"inspection", "transfer"}),
}
#: the pack table each restricted role uploads, for messages
IMPORT_TABLES: Final = {"manufacturer": "shipments", "inspector": "inspections"}


def import_mark(session: Session, viewer: User | None) -> int:
    """Check the viewer may import at all, and mark the log's size before the import."""
    require(viewer, "imports")
    return log.tree_size(session)


def check_import_scope(session: Session, viewer: User | None, mark: int) -> None:
    """After an import in the caller's transaction (before it commits): a manufacturer's
    import may only add shipments of its own products, an inspector's only inspections of
    its buyer's orders (and the acceptances they post). Raises ForbiddenError, and the
    caller rolls the whole import back."""
    user = require(viewer, "imports")
    allowed = IMPORT_KINDS[user.role]
    if allowed is None:
        return
    table = IMPORT_TABLES[user.role]
    other = session.scalar(select(LogLeaf.kind).where(LogLeaf.idx >= mark,
                                                      LogLeaf.kind.notin_(sorted(allowed)))
                           .limit(1))
    if other is not None:
        raise ForbiddenError(f"a user of role {user.role} imports {table} only; this pack "
                             f"also changes {other} records; nothing was imported")
    party = _party(user)
    if user.role == "manufacturer":
        serial = session.scalar(select(ShipmentRow.serial).where(
            ShipmentRow.leaf_index >= mark, ShipmentRow.manufacturer_id != party).limit(1))
    else:
        serial = session.scalar(
            select(InspectionRow.serial)
            .join(ShipmentRow, and_(ShipmentRow.manufacturer_id == InspectionRow.manufacturer_id,
                                    ShipmentRow.serial == InspectionRow.serial))
            .join(OrderRow, OrderRow.order_id == ShipmentRow.order_id)
            .where(InspectionRow.leaf_index >= mark, OrderRow.buyer_id != party).limit(1))
    if serial is not None:
        raise ForbiddenError(f"unit {serial} is not one of {party}'s to import {table} for; "
                             "nothing was imported")


# --- paging ----------------------------------------------------------------------------

def _limit(limit: int) -> int:
    assert 1 <= limit <= MAX_LIMIT, f"a page holds 1 to {MAX_LIMIT} items"
    return limit


def _after(keys: Sequence[Any], after: Key | None) -> list[ColumnElement[bool]]:
    if after is None:
        return []
    if len(keys) == 1:
        return [keys[0] > after[0]]
    return [tuple_(*keys) > tuple_(*after)]


def _keyset(session: Session, query: AnySelect, keys: Sequence[Any], after: Key | None,
            limit: int, *, to_doc: Callable[[Any], dict[str, Any]],
            key_of: Callable[[Any], Key]) -> Page:
    rows = list(session.execute(
        query.where(*_after(keys, after)).order_by(*keys).limit(_limit(limit) + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [to_doc(r) for r in rows], (key_of(rows[-1]) if more else None)


def _in_memory(items: Iterable[tuple[Key, dict[str, Any]]], after: Key | None,
               limit: int) -> Page:
    ordered = sorted((k, d) for k, d in items if after is None or k > after)
    page = ordered[:_limit(limit)]
    return [d for _, d in page], (page[-1][0] if len(ordered) > limit else None)


def _where(query: _Q, scope: ColumnElement[bool] | None) -> _Q:
    return query if scope is None else query.where(scope)


# --- documents -------------------------------------------------------------------------

def party_document(r: PartyRow) -> dict[str, Any]:
    return {"party_id": r.party_id, "name": r.name, "kind": r.kind, "country": r.country,
            "identifier": r.identifier}


def product_document(r: ProductRow) -> dict[str, Any]:
    return {"product_id": r.product_id, "supplier_id": r.supplier_id, "name": r.name,
            "category": r.category, "unit_price": format_amount(r.unit_price, r.currency),
            "currency": r.currency, "monthly_capacity": r.monthly_capacity, "nsn": r.nsn}


def order_document(r: OrderRow) -> dict[str, Any]:
    return {"order_id": r.order_id, "agreement_id": r.agreement_id, "flow_id": r.flow_id,
            "buyer_id": r.buyer_id, "supplier_id": r.supplier_id, "product_id": r.product_id,
            "quantity": r.quantity, "unit_price": format_amount(r.unit_price, r.currency),
            "currency": r.currency, "due_on": r.due_on.isoformat()}


def license_document(r: LicenseRow, left: Remaining | None) -> dict[str, Any]:
    drawn_quantity = left.drawn_quantity if left else 0
    drawn_value = left.drawn_value if left else 0
    return {"license_id": r.license_id, "authority_country": r.authority_country,
            "exporter_id": r.exporter_id, "end_user_id": r.end_user_id,
            "product_id": r.product_id, "max_quantity": r.max_quantity,
            "max_value": format_amount(r.max_value, r.currency), "currency": r.currency,
            "valid_from": r.valid_from.isoformat(), "valid_to": r.valid_to.isoformat(),
            "remaining": {"quantity": r.max_quantity - drawn_quantity,
                          "value": format_amount(r.max_value - drawn_value, r.currency)}}


def case_line_document(r: CaseLineRow) -> dict[str, Any]:
    return {"case_id": r.case_id, "line": r.line, "agreement_id": r.agreement_id,
            "flow_id": r.flow_id, "seller_id": r.seller_id, "buyer_id": r.buyer_id,
            "description": r.description, "category": r.category, "quantity": r.quantity,
            "unit_price": format_amount(r.unit_price, r.currency), "currency": r.currency}


def payment_document(r: PaymentRow | Row[Any]) -> dict[str, Any]:
    return {"payment_id": r.payment_id, "agreement_id": r.agreement_id,
            "payer_id": r.payer_id, "payee_id": r.payee_id,
            "amount": format_amount(r.amount, r.currency), "currency": r.currency,
            "paid_on": r.paid_on.isoformat(), "reference": r.reference,
            "leaf_index": r.leaf_index}


def shipment_document(r: ShipmentRow) -> dict[str, Any]:
    return {"serial": r.serial, "manufacturer_id": r.manufacturer_id,
            "product_id": r.product_id, "lot_id": r.lot_id, "order_id": r.order_id,
            "license_id": r.license_id, "shipped_on": r.shipped_on.isoformat(),
            "leaf_index": r.leaf_index}


def inspection_document(r: InspectionRow) -> dict[str, Any]:
    return {"result": r.result, "reason": r.reason, "inspected_on": r.inspected_on.isoformat(),
            "leaf_index": r.leaf_index}


def _visible(session: Session, key_column: InstrumentedAttribute[str], key: str,
             scope: ColumnElement[bool] | None, noun: str) -> Any:
    """The row of `key_column`'s table whose key is `key`, within the viewer's `scope`;
    NotVisibleError when there is none (another party's row reads as a missing one)."""
    query = select(key_column.class_).where(key_column == key)
    row = session.scalars(_where(query, scope)).first()
    if row is None:
        raise NotVisibleError(f"no {noun} {key!r} you may read")
    return row


# --- listings and look-ups ---------------------------------------------------------------

def list_parties(session: Session, viewer: User | None, *, after: Key | None = None,
                 limit: int = 50) -> Page:
    """Parties the viewer may read, by id."""
    user = require(viewer, "parties")
    return _keyset(session, _where(select(PartyRow), party_scope(user)), [PartyRow.party_id],
                   after, limit, to_doc=lambda r: party_document(r[0]),
                   key_of=lambda r: (r[0].party_id,))


def get_party(session: Session, viewer: User | None, party_id: str) -> dict[str, Any]:
    user = require(viewer, "parties")
    row = _visible(session, PartyRow.party_id, party_id, party_scope(user), "party")
    return party_document(row)


def list_products(session: Session, viewer: User | None, *, after: Key | None = None,
                  limit: int = 50) -> Page:
    """Products the viewer may read, by id (without BOM; `get_product` has it)."""
    user = require(viewer, "products")
    return _keyset(session, _where(select(ProductRow), product_scope(user)),
                   [ProductRow.product_id], after, limit, to_doc=lambda r: product_document(r[0]),
                   key_of=lambda r: (r[0].product_id,))


def get_product(session: Session, viewer: User | None, product_id: str) -> dict[str, Any]:
    """A product with its bill of materials."""
    user = require(viewer, "products")
    row = _visible(session, ProductRow.product_id, product_id, product_scope(user), "product")
    bom = [line.document() for line in master.load_bom(session, [product_id])]
    return {**product_document(row), "bom": bom}


def _agreements(session: Session, viewer: User | None) -> list[Agreement]:
    user = require(viewer, "agreements")
    visible = agreement_ids(session, user)
    return [a for a in master.load_agreements(session)
            if visible is None or a.agreement_id in visible]


def list_agreements(session: Session, viewer: User | None, *, after: Key | None = None,
                    limit: int = 50) -> Page:
    """Agreements the viewer may read, by id."""
    return _in_memory((((a.agreement_id,), a.document())
                       for a in _agreements(session, viewer)), after, limit)


def get_agreement(session: Session, viewer: User | None, agreement_id: str) -> dict[str, Any]:
    return require_agreement(session, viewer, agreement_id, "agreements").document()


def list_orders(session: Session, viewer: User | None, *, after: Key | None = None,
                limit: int = 50) -> Page:
    """Orders the viewer may read, by id."""
    user = require(viewer, "orders")
    return _keyset(session, _where(select(OrderRow), order_scope(user)), [OrderRow.order_id],
                   after, limit, to_doc=lambda r: order_document(r[0]),
                   key_of=lambda r: (r[0].order_id,))


def get_order(session: Session, viewer: User | None, order_id: str) -> dict[str, Any]:
    """One order; another party's order is NotVisibleError, as a missing one is."""
    user = require(viewer, "orders")
    row = _visible(session, OrderRow.order_id, order_id, order_scope(user), "order")
    return order_document(row)


def _remaining(session: Session, license_ids: Iterable[str]) -> dict[str, Remaining]:
    wanted = set(license_ids)
    if not wanted:
        return {}
    return {r.license_id: r for r in licenses.remaining(session) if r.license_id in wanted}


def list_licenses(session: Session, viewer: User | None, *, after: Key | None = None,
                  limit: int = 50) -> Page:
    """Licenses the viewer may read, by id, each with what is left on it."""
    user = require(viewer, "licenses")
    rows = [r[0] for r in session.execute(
        _where(select(LicenseRow), license_scope(user))
        .where(*_after([LicenseRow.license_id], after))
        .order_by(LicenseRow.license_id).limit(_limit(limit) + 1))]
    more = len(rows) > limit
    rows = rows[:limit]
    left = _remaining(session, (r.license_id for r in rows))
    return ([license_document(r, left.get(r.license_id)) for r in rows],
            (rows[-1].license_id,) if more else None)


def get_license(session: Session, viewer: User | None, license_id: str) -> dict[str, Any]:
    user = require(viewer, "licenses")
    row = _visible(session, LicenseRow.license_id, license_id, license_scope(user), "license")
    return license_document(row, _remaining(session, [license_id]).get(license_id))


def tally_scope(viewer: User) -> ColumnElement[bool] | None:
    """`shipment_scope` on `unit_tally`, whose rows carry their units' maker and order."""
    t = TALLY.c
    if viewer.role == "manufacturer":
        return t.manufacturer_id == _party(viewer)
    orders = _visible_orders(viewer)
    return None if orders is None else t.order_id.in_(orders)


def _lot_query(user: User) -> AnySelect:
    """Lots per (lot, manufacturer) from `unit_tally`: a few rows per lot, not its units."""
    t = TALLY.c

    def units(event: str) -> ColumnElement[Any]:
        return func.sum(case((t.event == event, t.units), else_=0))

    shipped_on = case((t.event == tallies.SHIPPED, t.day))
    query = (select(t.lot_id, t.manufacturer_id, func.min(t.product_id), func.min(t.order_id),
                    units(tallies.SHIPPED), func.min(shipped_on), func.max(shipped_on),
                    units(tallies.ACCEPTED), units(tallies.REJECTED))
             .group_by(t.lot_id, t.manufacturer_id))
    return _where(query, tally_scope(user))


def _lot_document(row: Any) -> dict[str, Any]:
    lot_id, manufacturer_id, product_id, order_id, units, first, last, ok, bad = row
    return {"lot_id": lot_id, "manufacturer_id": manufacturer_id, "product_id": product_id,
            "order_id": order_id, "units": int(units), "shipped_from": first.isoformat(),
            "shipped_to": last.isoformat(), "accepted": int(ok or 0), "rejected": int(bad or 0)}


def list_lots(session: Session, viewer: User | None, *, after: Key | None = None,
              limit: int = 50) -> Page:
    """Lots (shipments grouped by lot and manufacturer) the viewer may read."""
    user = require(viewer, "lots")
    keys = [TALLY.c.lot_id, TALLY.c.manufacturer_id]
    query = _lot_query(user)
    if after is not None:  # rows of earlier lots are skipped before grouping
        query = query.where(TALLY.c.lot_id >= after[0]).having(tuple_(*keys) > tuple_(*after))
    rows = list(session.execute(query.order_by(*keys).limit(_limit(limit) + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return [_lot_document(r) for r in rows], ((rows[-1][0], rows[-1][1]) if more else None)


def units_by_manufacturer(session: Session, viewer: User | None) -> dict[str, dict[str, int]]:
    """Units shipped, accepted and rejected per manufacturer, of the lots the viewer may
    read: the sums of `list_lots` over every page, in one GROUP BY of the tally."""
    user = require(viewer, "lots")
    t = TALLY.c
    query = _where(select(t.manufacturer_id, t.event, func.sum(t.units))
                   .group_by(t.manufacturer_id, t.event), tally_scope(user))
    out: dict[str, dict[str, int]] = {}
    for maker, event, units in session.execute(query):
        out.setdefault(maker, dict.fromkeys(tallies.EVENTS, 0))[event] = int(units)
    return out


def get_lot(session: Session, viewer: User | None, lot_id: str) -> dict[str, Any]:
    """A lot with its first serials (of every manufacturer that used the lot id)."""
    user = require(viewer, "lots")
    rows = list(session.execute(_lot_query(user).where(TALLY.c.lot_id == lot_id)
                                .order_by(TALLY.c.manufacturer_id)))
    if not rows:
        raise NotVisibleError(f"no lot {lot_id!r} you may read")
    serials = list(session.scalars(
        _where(select(ShipmentRow.serial), shipment_scope(user))
        .where(ShipmentRow.lot_id == lot_id)
        .order_by(ShipmentRow.serial).limit(LOT_SERIALS + 1)))
    return {"lot_id": lot_id, "parts": [_lot_document(r) for r in rows],
            "serials": serials[:LOT_SERIALS], "serials_truncated": len(serials) > LOT_SERIALS}


def get_unit(session: Session, viewer: User | None, serial: str,
             manufacturer_id: str | None = None) -> dict[str, Any]:
    """One delivered unit: its shipment, inspection, order, license, the findings on its
    product in force on its inspection (or shipping) date, and its log leaf."""
    user = require(viewer, "units")
    # a serial is unique per manufacturer: first the makers that shipped it, by probing
    # the primary key (manufacturer, serial) once per party rather than scanning a
    # million shipments for the serial; then the viewer's scope on those few rows only
    makers = list(session.scalars(
        select(ShipmentRow.manufacturer_id).where(
            ShipmentRow.serial == serial,
            ShipmentRow.manufacturer_id.in_([manufacturer_id] if manufacturer_id is not None
                                            else select(PartyRow.party_id)))))
    shipment = None if not makers else session.scalars(
        _where(select(ShipmentRow), shipment_scope(user))
        .where(ShipmentRow.manufacturer_id.in_(makers), ShipmentRow.serial == serial)
        .order_by(ShipmentRow.manufacturer_id).limit(1)).first()
    if shipment is None:
        raise NotVisibleError(f"no unit {serial!r} you may read")
    inspection = session.scalars(select(InspectionRow).where(
        InspectionRow.manufacturer_id == shipment.manufacturer_id,
        InspectionRow.serial == serial)).one_or_none()
    order = session.get(OrderRow, shipment.order_id)
    assert order is not None, "a shipment names a stored order"
    lic = session.get(LicenseRow, shipment.license_id) if shipment.license_id else None
    flow = session.get(FlowRow, (order.agreement_id, order.flow_id))
    on = inspection.inspected_on if inspection else shipment.shipped_on
    rulesets = _json_list(flow.rulesets) if flow else []
    found = sorted(current_findings(session, ruleset_ids=rulesets,
                                    product_ids=[shipment.product_id], on=on)) if rulesets else []
    leaf = log.leaf_text(session, shipment.leaf_index)
    return {
        "serial": serial,
        "shipment": shipment_document(shipment),
        "inspection": inspection_document(inspection) if inspection else None,
        "order": order_document(order),
        "license": (license_document(lic, _remaining(session, [lic.license_id])
                                     .get(lic.license_id)) if lic else None),
        "findings": [f.as_json(on) for f in found],
        "leaf": {"index": shipment.leaf_index, "leaf": leaf},
    }


def _json_list(text: str) -> list[str]:
    value = json.loads(text)
    assert isinstance(value, list)
    return [str(v) for v in value]


def list_cases(session: Session, viewer: User | None, *, after: Key | None = None,
               limit: int = 50) -> Page:
    """Case lines the viewer may read, by (case, line), each with units delivered."""
    user = require(viewer, "cases")
    delivered = (select(func.coalesce(func.sum(CaseDeliveryRow.quantity), 0))
                 .where(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                        CaseDeliveryRow.line == CaseLineRow.line)
                 .scalar_subquery())
    query = _where(select(CaseLineRow, delivered), case_scope(user))
    return _keyset(session, query, [CaseLineRow.case_id, CaseLineRow.line], after, limit,
                   to_doc=lambda r: {**case_line_document(r[0]), "delivered": int(r[1])},
                   key_of=lambda r: (r[0].case_id, r[0].line))


def get_case(session: Session, viewer: User | None, case_id: str) -> dict[str, Any]:
    """A case with its lines and their deliveries."""
    user = require(viewer, "cases")
    lines = list(session.scalars(_where(select(CaseLineRow), case_scope(user))
                                 .where(CaseLineRow.case_id == case_id)
                                 .order_by(CaseLineRow.line)))
    if not lines:
        raise NotVisibleError(f"no case {case_id!r} you may read")
    deliveries = list(session.scalars(
        select(CaseDeliveryRow).where(CaseDeliveryRow.case_id == case_id)
        .order_by(CaseDeliveryRow.delivered_on, CaseDeliveryRow.delivery_id)))
    return {"case_id": case_id, "lines": [case_line_document(r) for r in lines],
            "deliveries": [{"delivery_id": d.delivery_id, "line": d.line,
                            "quantity": d.quantity, "delivered_on": d.delivered_on.isoformat(),
                            "leaf_index": d.leaf_index} for d in deliveries]}


def list_payments(session: Session, viewer: User | None, *, agreement_id: str | None = None,
                  after: Key | None = None, limit: int = 50) -> Page:
    """Payments the viewer may read (of one agreement), by id."""
    user = require(viewer, "payments")
    query = _where(select(*PAYMENT.c), payment_scope(user))
    if agreement_id is not None:
        query = query.where(PAYMENT.c.agreement_id == agreement_id)
    # plain rows, not ORM objects: a listing of many pages costs less per row
    return _keyset(session, query, [PAYMENT.c.payment_id], after, limit,
                   to_doc=payment_document, key_of=lambda r: (r.payment_id,))


def recent_payments(session: Session, viewer: User | None, *, agreement_id: str,
                    as_of: dt.date, limit: int = 50) -> list[dict[str, Any]]:
    """The latest `limit` payments of `agreement_id` dated on or before `as_of` that the
    viewer may read, oldest first (by date, then id): what a page shows of them."""
    user = require(viewer, "payments")
    c = PAYMENT.c
    query = (_where(select(*c), payment_scope(user))
             .where(c.agreement_id == agreement_id, c.paid_on <= as_of)
             .order_by(c.paid_on.desc(), c.payment_id.desc()).limit(_limit(limit)))
    return [payment_document(r) for r in reversed(session.execute(query).all())]


def get_payment(session: Session, viewer: User | None, payment_id: str) -> dict[str, Any]:
    user = require(viewer, "payments")
    row = _visible(session, PaymentRow.payment_id, payment_id, payment_scope(user), "payment")
    return payment_document(row)


def list_findings(session: Session, viewer: User | None, *, on: dt.date,
                  agreement_id: str | None = None, after: Key | None = None,
                  limit: int = 50) -> Page:
    """Compliance findings in force on `on` (SPEC §5 `check` items) on products the viewer
    may read, by (product, ruleset, rule, part). Evaluates what changed first, so the
    session must be able to write (the evaluations are a cache)."""
    found = _visible_findings(session, viewer, on=on, agreement_id=agreement_id)
    start = 0 if after is None else bisect.bisect_right(found, tuple(after), key=itemgetter(0))
    page = found[start:start + _limit(limit)]
    more = start + limit < len(found)
    return [f.as_json(on) for _, f in page], (page[-1][0] if more else None)


def all_findings(session: Session, viewer: User | None, *, on: dt.date,
                 agreement_id: str | None = None) -> list[dict[str, Any]]:
    """Every finding `list_findings` pages through, in its order, from one check (a
    page that shows counts of them all evaluates once, not once per page)."""
    return [f.as_json(on) for _, f in _visible_findings(session, viewer, on=on,
                                                        agreement_id=agreement_id)]


def _visible_findings(session: Session, viewer: User | None, *, on: dt.date,
                      agreement_id: str | None) -> list[tuple[Key, Finding]]:
    """The findings in force on `on` on products the viewer may read, with their keys
    (product, ruleset, rule, part), sorted by key."""
    user = require(viewer, "findings")
    if agreement_id is not None:
        require_agreement(session, user, agreement_id, "findings")
    scope = product_scope(user)
    visible = (None if scope is None
               else set(session.scalars(select(ProductRow.product_id).where(scope))))
    found = sorted((((f.product_id, f.ruleset_id, f.rule_id, f.part_number or ""), f)
                    for f in check(session, on=on, agreement_id=agreement_id).findings
                    if visible is None or f.product_id in visible), key=itemgetter(0))
    assert all(a[0] != b[0] for a, b in itertools.pairwise(found)), "finding keys are unique"
    return found


def list_transfers(session: Session, viewer: User | None, *, agreement_id: str | None = None,
                   after: Key | None = None, limit: int = 50) -> Page:
    """Ledger transfers the viewer may read, in log order (key: leaf index)."""
    user = require(viewer, "transfers")
    if agreement_id is not None:
        require_agreement(session, user, agreement_id, "transfers")
    visible = agreement_ids(session, user)
    start = -1 if after is None else int(after[0])
    items: list[dict[str, Any]] = []
    more = False
    for transfer, leaf_index in stream_transfers(session, agreement_id):
        if leaf_index <= start or (visible is not None
                                   and transfer.agreement_id not in visible):
            continue
        if len(items) == _limit(limit):
            more = True
            break
        items.append({**transfer.document(), "leaf_index": leaf_index})
    return items, ((items[-1]["leaf_index"],) if more else None)
