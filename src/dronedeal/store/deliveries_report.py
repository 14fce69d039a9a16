"""The query behind "deliveries per month by flow and category" (SPEC §8, dashboard).

Accepted units of an agreement per (flow, product category, day): units accepted at
inspection, plus case deliveries (a flow fed by cases delivers what it accepts). The
units come from `unit_tally` (store.tallies: units per lot, order, product, event and
day — a few thousand rows at a million units), joined to the orders (flow) and the
products (category) and summed in SQL with GROUP BY; the agreement's orders lead, so
the tally is read on its index `ix_unit_tally_order_day`. Unit rows are never read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dronedeal.store.events import CaseDeliveryRow, CaseLineRow
from dronedeal.store.master import OrderRow, ProductRow
from dronedeal.store.tallies import ACCEPTED, UnitTallyRow


@dataclass(frozen=True, slots=True)
class CategoryDay:
    """Units of one category accepted (or delivered, for cases) in one flow on one day."""

    flow_id: str
    category: str
    on: dt.date
    units: int


def accepted_by_category(session: Session, agreement_id: str,
                         as_of: dt.date) -> list[CategoryDay]:
    """The agreement's accepted units per (flow, category, day) up to `as_of`, sorted."""
    t = UnitTallyRow
    units = (
        select(OrderRow.flow_id, ProductRow.category, t.day, func.sum(t.units))
        .select_from(OrderRow)
        .join(t, t.order_id == OrderRow.order_id)
        .join(ProductRow, ProductRow.product_id == t.product_id)
        .where(OrderRow.agreement_id == agreement_id, t.event == ACCEPTED, t.day <= as_of)
        .group_by(OrderRow.flow_id, ProductRow.category, t.day))
    cases = (
        select(CaseLineRow.flow_id, CaseLineRow.category, CaseDeliveryRow.delivered_on,
               func.sum(CaseDeliveryRow.quantity))
        .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                CaseDeliveryRow.line == CaseLineRow.line))
        .where(CaseLineRow.agreement_id == agreement_id, CaseDeliveryRow.delivered_on <= as_of)
        .group_by(CaseLineRow.flow_id, CaseLineRow.category, CaseDeliveryRow.delivered_on))
    totals: defaultdict[tuple[str, str, dt.date], int] = defaultdict(int)
    for query in (units, cases):
        for flow_id, category, on, count in session.execute(query):
            totals[(flow_id, category, on)] += int(count)
    return [CategoryDay(flow_id, category, on, count)
            for (flow_id, category, on), count in sorted(totals.items())]
