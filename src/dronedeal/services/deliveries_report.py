"""Deliveries per month by flow and product category (SPEC §8, the agreement page).

Accepted units (inspections accepted, and case deliveries) of each flow of an agreement,
per calendar month of acceptance and product category, counted in SQL by
`store.deliveries_report`. Units only: a category's value in a month could reveal a
unit price, which the public view withholds.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dronedeal.core.records import Agreement
from dronedeal.store import deliveries_report


@dataclass(frozen=True)
class FlowCategories:
    """One flow's accepted units per month (oldest first) and category (sorted)."""

    flow_id: str
    categories: tuple[str, ...]
    #: (first day of the month, units per category in `categories` order)
    months: tuple[tuple[dt.date, tuple[int, ...]], ...]

    @property
    def total(self) -> int:
        return sum(sum(units) for _, units in self.months)


def deliveries_by_category(*, session: Session, agreement: Agreement,
                           as_of: dt.date) -> list[FlowCategories]:
    """Each flow of `agreement` (in its order) with its accepted units per month and
    category, counting acceptances dated on or before `as_of`."""
    per_flow: defaultdict[str, defaultdict[tuple[dt.date, str], int]] = defaultdict(
        lambda: defaultdict(int))
    for day in deliveries_report.accepted_by_category(session, agreement.agreement_id, as_of):
        per_flow[day.flow_id][(day.on.replace(day=1), day.category)] += day.units
    out = []
    for flow in agreement.flows:
        counts = per_flow.pop(flow.flow_id, defaultdict(int))
        categories = tuple(sorted({category for _, category in counts}))
        months = sorted({month for month, _ in counts})
        out.append(FlowCategories(flow.flow_id, categories, tuple(
            (month, tuple(counts.get((month, c), 0) for c in categories))
            for month in months)))
    assert not per_flow, f"units on flows the agreement does not have: {sorted(per_flow)}"
    return out
