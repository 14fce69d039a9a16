"""The aggregation queries behind the position report (SPEC §5).

Each query returns `core.position.Batch`es — units and source-currency value of one
flow, on one date, in one currency — for the service to convert once per batch. Units
are never fetched one by one: shipments, left-joined to their inspections, are counted
in SQL per (order, lot, shipping date, inspection date, result) in one pass, then
regrouped per (flow, lot, date, currency), the grouping the ledger posts acceptances
by; the position of a million units reads a few thousand rows. Case deliveries and
payments are converted one by one, as the ledger posts them, and are few. Orders and
case lines are each converted at the agreement's `signed_on` (rounded per order), so
they come one per row.

Every event query counts only events dated on or before `as_of`. Orders and case lines
are authorisations, not dated events: they count whatever `as_of`. The queries are
plain SQLAlchemy Core and give the same rows on SQLite and PostgreSQL (sums of
BigInteger come back as `Decimal` on PostgreSQL and are turned into `int`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dronedeal.core.position import Batch
from dronedeal.store.events import (
    CaseDeliveryRow,
    CaseLineRow,
    InspectionRow,
    PaymentRow,
    ShipmentRow,
)
from dronedeal.store.master import OrderRow, PartyRow

ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"
#: how many ids one `IN (…)` look-up carries
LOOKUP_CHUNK: Final = 4_000


def order_batches(session: Session, agreement_id: str, signed_on: dt.date) -> list[Batch]:
    """One batch per order of the agreement, dated `signed_on` (its conversion date)."""
    query = (select(OrderRow.flow_id, OrderRow.currency, OrderRow.quantity, OrderRow.unit_price)
             .where(OrderRow.agreement_id == agreement_id)
             .order_by(OrderRow.order_id))
    return [Batch(flow_id, signed_on, currency, int(quantity), int(quantity) * int(price))
            for flow_id, currency, quantity, price in session.execute(query)]


def case_line_batches(session: Session, agreement_id: str, signed_on: dt.date) -> list[Batch]:
    """One batch per case line of the agreement, dated `signed_on`."""
    query = (select(CaseLineRow.flow_id, CaseLineRow.currency, CaseLineRow.quantity,
                    CaseLineRow.unit_price)
             .where(CaseLineRow.agreement_id == agreement_id)
             .order_by(CaseLineRow.case_id, CaseLineRow.line))
    return [Batch(flow_id, signed_on, currency, int(quantity), int(quantity) * int(price))
            for flow_id, currency, quantity, price in session.execute(query)]


@dataclass(frozen=True, slots=True)
class UnitBatches:
    """Shipped units per (flow, lot, shipped_on, currency); accepted and rejected units
    per (flow, lot, inspected_on, currency); values Σ order unit_price."""

    shipped: list[Batch]
    accepted: list[Batch]
    rejected: list[Batch]


def unit_batches(session: Session, agreement_id: str, as_of: dt.date) -> UnitBatches:
    """The agreement's units shipped and inspected on or before `as_of`, in batches.

    One pass: shipments left-joined to their inspections are counted per (order, lot,
    shipped_on, inspected_on, result) in SQL — a few rows per lot — and those counts are
    priced and regrouped here. A unit is inspected on or after it is shipped, so the
    shipments after `as_of` are left out in SQL; inspections after `as_of` here.
    """
    orders = {order_id: (flow_id, currency, int(price)) for order_id, flow_id, currency, price
              in session.execute(
                  select(OrderRow.order_id, OrderRow.flow_id, OrderRow.currency,
                         OrderRow.unit_price).where(OrderRow.agreement_id == agreement_id))}
    of_agreement = select(OrderRow.order_id).where(OrderRow.agreement_id == agreement_id)
    query = (
        select(ShipmentRow.order_id, ShipmentRow.lot_id, ShipmentRow.shipped_on,
               InspectionRow.inspected_on, InspectionRow.result, func.count())
        .select_from(ShipmentRow)
        .outerjoin(InspectionRow, and_(
            InspectionRow.manufacturer_id == ShipmentRow.manufacturer_id,
            InspectionRow.serial == ShipmentRow.serial))
        .where(ShipmentRow.order_id.in_(of_agreement), ShipmentRow.shipped_on <= as_of)
        .group_by(ShipmentRow.order_id, ShipmentRow.lot_id, ShipmentRow.shipped_on,
                  InspectionRow.inspected_on, InspectionRow.result)
    )
    shipped: defaultdict[tuple[str, str, dt.date, str], list[int]] = defaultdict(lambda: [0, 0])
    inspected: dict[str, defaultdict[tuple[str, str, dt.date, str], list[int]]] = {
        ACCEPTED: defaultdict(lambda: [0, 0]), REJECTED: defaultdict(lambda: [0, 0])}
    for order_id, lot_id, shipped_on, inspected_on, result, count in session.execute(query):
        flow_id, currency, price = orders[order_id]
        units = int(count)
        totals = shipped[(flow_id, lot_id, shipped_on, currency)]
        totals[0] += units
        totals[1] += units * price
        if inspected_on is None or inspected_on > as_of:
            continue
        assert result in inspected, f"inspection result {result!r} is neither accepted nor rejected"
        totals = inspected[result][(flow_id, lot_id, inspected_on, currency)]
        totals[0] += units
        totals[1] += units * price

    def batches(groups: dict[tuple[str, str, dt.date, str], list[int]]) -> list[Batch]:
        return [Batch(flow_id, on, currency, units, value)
                for (flow_id, _lot, on, currency), (units, value) in sorted(groups.items())]

    return UnitBatches(batches(shipped), batches(inspected[ACCEPTED]),
                       batches(inspected[REJECTED]))


def delivery_batches(session: Session, agreement_id: str, as_of: dt.date) -> list[Batch]:
    """One batch per case delivery of the agreement (converted one by one, as posted)."""
    query = (
        select(CaseLineRow.flow_id, CaseDeliveryRow.delivered_on, CaseLineRow.currency,
               CaseDeliveryRow.quantity, CaseLineRow.unit_price)
        .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                CaseDeliveryRow.line == CaseLineRow.line))
        .where(CaseLineRow.agreement_id == agreement_id, CaseDeliveryRow.delivered_on <= as_of)
        .order_by(CaseDeliveryRow.delivery_id)
    )
    return [Batch(flow_id, on, currency, int(quantity), int(quantity) * int(price))
            for flow_id, on, currency, quantity, price in session.execute(query)]


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """A payment of the agreement with what a flow's `paid` needs to know of its payee."""

    payer_id: str
    payee_country: str | None
    payee_kind: str | None
    currency: str
    amount: int
    paid_on: dt.date


def payments(session: Session, agreement_id: str, as_of: dt.date) -> list[PaymentFacts]:
    """The agreement's payments dated on or before `as_of`, with their payee's country
    and kind (None for a payee the store does not know)."""
    query = (
        select(PaymentRow.payer_id, PartyRow.country, PartyRow.kind, PaymentRow.currency,
               PaymentRow.amount, PaymentRow.paid_on)
        .outerjoin(PartyRow, PaymentRow.payee_id == PartyRow.party_id)
        .where(PaymentRow.agreement_id == agreement_id, PaymentRow.paid_on <= as_of)
        .order_by(PaymentRow.payment_id)
    )
    return [PaymentFacts(payer, country, kind, currency, int(amount), on)
            for payer, country, kind, currency, amount, on in session.execute(query)]


def party_profiles(session: Session, party_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """party id -> (country, kind) for the parties among `party_ids` that the store knows."""
    wanted = sorted(set(party_ids))
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start:start + LOOKUP_CHUNK]
        query = (select(PartyRow.party_id, PartyRow.country, PartyRow.kind)
                 .where(PartyRow.party_id.in_(chunk)))
        for party_id, country, kind in session.execute(query):
            found[party_id] = (country, kind)
    return found
