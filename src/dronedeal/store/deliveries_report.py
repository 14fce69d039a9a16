"""The query behind "deliveries per month by flow and category" (SPEC §8, dashboard).

Accepted units of an agreement per (flow, product category, day): units accepted at
inspection, plus case deliveries (a flow fed by cases delivers what it accepts). The
units come from `unit_tally` (store.tallies: units per lot, order, product, event and
day — some thousands of rows at a million units), through `reports.unit_batches`,
which reads the agreement's tally rows once per request for the position as well and
sums the accepted ones per (flow, product, day); here the products give their
category. Unit rows are never read.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from dronedeal.store import reports
from dronedeal.store.events import CaseDeliveryRow, CaseLineRow
from dronedeal.store.master import ProductRow
from dronedeal.store.tallies import ACCEPTED


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
    accepted = reports.unit_batches(session, agreement_id, as_of, [ACCEPTED]).accepted_units
    products = sorted({product_id for _, product_id, _ in accepted})
    categories: dict[str, str] = {}
    for start in range(0, len(products), reports.LOOKUP_CHUNK):
        chunk = products[start:start + reports.LOOKUP_CHUNK]
        categories.update(session.execute(
            select(ProductRow.product_id, ProductRow.category)
            .where(ProductRow.product_id.in_(chunk))).all())
    totals: defaultdict[tuple[str, str, dt.date], int] = defaultdict(int)
    for (flow_id, product_id, on), count in accepted.items():
        totals[(flow_id, categories[product_id], on)] += count
    cases = (
        select(CaseLineRow.flow_id, CaseLineRow.category, CaseDeliveryRow.delivered_on,
               func.sum(CaseDeliveryRow.quantity))
        .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                CaseDeliveryRow.line == CaseLineRow.line))
        .where(CaseLineRow.agreement_id == agreement_id, CaseDeliveryRow.delivered_on <= as_of)
        .group_by(CaseLineRow.flow_id, CaseLineRow.category, CaseDeliveryRow.delivered_on))
    for flow_id, category, on, count in session.execute(cases).all():
        totals[(flow_id, category, on)] += int(count)
    return [CategoryDay(flow_id, category, on, count)
            for (flow_id, category, on), count in sorted(totals.items())]
