"""The aggregation queries behind the position report (SPEC §5).

Each query returns `core.position.Batch`es — units and source-currency value of one
flow, on one date, in one currency — for the service to convert once per batch. Units
are never fetched one by one: shipments are summed in SQL per (flow, lot, shipping
date, currency), inspections per (flow, lot, inspection date, currency, result), the
same grouping the ledger posts acceptances by, so the position of a million units is
a few thousand rows. Case deliveries and payments are converted one by one, as the
ledger posts them, and are few. Orders and case lines are each converted at the
agreement's `signed_on` (rounded per order), so they come one per row.

Every event query counts only events dated on or before `as_of`. Orders and case lines
are authorisations, not dated events: they count whatever `as_of`. The queries are
plain SQLAlchemy Core and give the same rows on SQLite and PostgreSQL (sums of
BigInteger come back as `Decimal` on PostgreSQL and are turned into `int`).
"""

from __future__ import annotations

import datetime as dt
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


def shipped_batches(session: Session, agreement_id: str, as_of: dt.date) -> list[Batch]:
    """Shipped units per (flow, lot, shipped_on, order currency), Σ order unit_price."""
    query = (
        select(OrderRow.flow_id, ShipmentRow.lot_id, ShipmentRow.shipped_on, OrderRow.currency,
               func.count(), func.sum(OrderRow.unit_price))
        .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
        .where(OrderRow.agreement_id == agreement_id, ShipmentRow.shipped_on <= as_of)
        .group_by(OrderRow.flow_id, ShipmentRow.lot_id, ShipmentRow.shipped_on,
                  OrderRow.currency)
    )
    return [Batch(flow_id, on, currency, int(units), int(value))
            for flow_id, _lot, on, currency, units, value in session.execute(query)]


def inspected_batches(
    session: Session, agreement_id: str, as_of: dt.date
) -> dict[str, list[Batch]]:
    """Inspected units by result (`accepted`, `rejected`), per (flow, lot, inspected_on,
    order currency), Σ order unit_price."""
    query = (
        select(InspectionRow.result, OrderRow.flow_id, ShipmentRow.lot_id,
               InspectionRow.inspected_on, OrderRow.currency, func.count(),
               func.sum(OrderRow.unit_price))
        .join(ShipmentRow, and_(InspectionRow.manufacturer_id == ShipmentRow.manufacturer_id,
                                InspectionRow.serial == ShipmentRow.serial))
        .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
        .where(OrderRow.agreement_id == agreement_id, InspectionRow.inspected_on <= as_of)
        .group_by(InspectionRow.result, OrderRow.flow_id, ShipmentRow.lot_id,
                  InspectionRow.inspected_on, OrderRow.currency)
    )
    found: dict[str, list[Batch]] = {ACCEPTED: [], REJECTED: []}
    for result, flow_id, _lot, on, currency, units, value in session.execute(query):
        assert result in found, f"inspection result {result!r} is neither accepted nor rejected"
        found[result].append(Batch(flow_id, on, currency, int(units), int(value)))
    return found


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
