"""The queries behind an agreement's OCDS publication (`services.publication`).

Units are never fetched one by one unless their serials are to be published: shipments
are counted per (order, lot, shipping date), inspections per (order, lot, inspection
date, result), so the milestones of a million units are a few thousand rows. Serials,
when asked for, are streamed in (order, lot, date) order. Plain SQLAlchemy Core: the
same rows on SQLite and PostgreSQL (counts come back as `int` on both).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dronedeal.core.ocds import Case, CaseDelivery, CaseLine, LotEvent, Payment
from dronedeal.store.events import (
    CaseDeliveryRow,
    CaseLineRow,
    InspectionRow,
    PaymentRow,
    ShipmentRow,
)
from dronedeal.store.master import OrderRow

SHIPPED = "shipped"
INSPECTED = "inspected"
#: rows fetched per round trip when serials are streamed
STREAM_BATCH = 10_000


def lot_events(session: Session, agreement_id: str, *,
               with_serials: bool) -> dict[str, list[LotEvent]]:
    """order id -> its lots shipped and inspected, per (lot, date); with serials if asked."""
    shipped = (
        select(ShipmentRow.order_id, ShipmentRow.lot_id, ShipmentRow.shipped_on, func.count())
        .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
        .where(OrderRow.agreement_id == agreement_id)
        .group_by(ShipmentRow.order_id, ShipmentRow.lot_id, ShipmentRow.shipped_on))
    inspected = (
        select(ShipmentRow.order_id, ShipmentRow.lot_id, InspectionRow.inspected_on,
               InspectionRow.result, func.count())
        .join(ShipmentRow, and_(InspectionRow.manufacturer_id == ShipmentRow.manufacturer_id,
                                InspectionRow.serial == ShipmentRow.serial))
        .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
        .where(OrderRow.agreement_id == agreement_id)
        .group_by(ShipmentRow.order_id, ShipmentRow.lot_id, InspectionRow.inspected_on,
                  InspectionRow.result))
    serials: dict[tuple[str, str, str, dt.date], list[str]] = defaultdict(list)
    rejections: dict[tuple[str, str, str, dt.date], list[tuple[str, str | None]]] = (
        defaultdict(list))
    if with_serials:
        for key, serial, was_rejected, reason in _serials(session, agreement_id):
            serials[key].append(serial)
            if was_rejected:
                rejections[key].append((serial, reason))
    events: dict[str, list[LotEvent]] = defaultdict(list)
    for order_id, lot_id, on, units in session.execute(shipped):
        events[order_id].append(LotEvent(
            order_id, lot_id, on, SHIPPED, int(units),
            serials=tuple(serials.get((SHIPPED, order_id, lot_id, on), ()))))
    counts: dict[tuple[str, str, dt.date], dict[str, int]] = defaultdict(dict)
    for order_id, lot_id, on, result, units in session.execute(inspected):
        counts[(order_id, lot_id, on)][result] = int(units)
    for (order_id, lot_id, on), by_result in counts.items():
        accepted, rejected = by_result.get("accepted", 0), by_result.get("rejected", 0)
        assert accepted + rejected == sum(by_result.values()), (
            f"an inspection result other than accepted/rejected in lot {lot_id}")
        events[order_id].append(LotEvent(
            order_id, lot_id, on, INSPECTED, accepted + rejected, accepted, rejected,
            tuple(serials.get((INSPECTED, order_id, lot_id, on), ())),
            tuple(rejections.get((INSPECTED, order_id, lot_id, on), ()))))
    return dict(events)


def _serials(session: Session, agreement_id: str
             ) -> Iterator[tuple[tuple[str, str, str, dt.date], str, bool, str | None]]:
    """(stage, order, lot, date), serial, whether it was rejected, and the reason."""
    shipped = (
        select(ShipmentRow.order_id, ShipmentRow.lot_id, ShipmentRow.shipped_on,
               ShipmentRow.serial)
        .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
        .where(OrderRow.agreement_id == agreement_id)
        .execution_options(yield_per=STREAM_BATCH))
    for order_id, lot_id, on, serial in session.execute(shipped):
        yield (SHIPPED, order_id, lot_id, on), serial, False, None
    inspected = (
        select(ShipmentRow.order_id, ShipmentRow.lot_id, InspectionRow.inspected_on,
               InspectionRow.serial, InspectionRow.result, InspectionRow.reason)
        .join(ShipmentRow, and_(InspectionRow.manufacturer_id == ShipmentRow.manufacturer_id,
                                InspectionRow.serial == ShipmentRow.serial))
        .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
        .where(OrderRow.agreement_id == agreement_id)
        .execution_options(yield_per=STREAM_BATCH))
    for order_id, lot_id, on, serial, result, reason in session.execute(inspected):
        yield (INSPECTED, order_id, lot_id, on), serial, result == "rejected", reason


def cases(session: Session, agreement_id: str) -> list[Case]:
    """The agreement's purchase cases with their lines and deliveries, by case id."""
    lines: dict[str, list[CaseLine]] = defaultdict(list)
    heads: dict[str, tuple[str, str, str]] = {}
    for row in session.scalars(select(CaseLineRow)
                               .where(CaseLineRow.agreement_id == agreement_id)
                               .order_by(CaseLineRow.case_id, CaseLineRow.line)):
        heads.setdefault(row.case_id, (row.flow_id, row.seller_id, row.buyer_id))
        lines[row.case_id].append(CaseLine(int(row.line), row.description, row.category,
                                           int(row.quantity), int(row.unit_price),
                                           row.currency))
    deliveries: dict[str, list[CaseDelivery]] = defaultdict(list)
    query = (select(CaseDeliveryRow)
             .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                     CaseDeliveryRow.line == CaseLineRow.line))
             .where(CaseLineRow.agreement_id == agreement_id)
             .order_by(CaseDeliveryRow.delivery_id))
    for d in session.scalars(query):
        deliveries[d.case_id].append(CaseDelivery(d.delivery_id, int(d.line),
                                                  int(d.quantity), d.delivered_on))
    return [Case(case_id, *heads[case_id], tuple(lines[case_id]),
                 tuple(deliveries.get(case_id, ()))) for case_id in sorted(heads)]


def payments(session: Session, agreement_id: str) -> list[Payment]:
    """The agreement's payments, by payment id."""
    query = (select(PaymentRow).where(PaymentRow.agreement_id == agreement_id)
             .order_by(PaymentRow.payment_id))
    return [Payment(p.payment_id, p.payer_id, p.payee_id, int(p.amount), p.currency,
                    p.paid_on, p.reference) for p in session.scalars(query)]
