"""Deliveries per month by flow and product category (the agreement page): the figures
against the unit rows themselves, and the page's tables against the service, on the
small demo and the database under test."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import and_, select
from sqlalchemy.orm import Session
from tests.web.conftest import Demo

from dronedeal.api import create_app
from dronedeal.api.web import views
from dronedeal.services.deliveries_report import FlowCategories, deliveries_by_category
from dronedeal.store import master
from dronedeal.store.db import make_engine
from dronedeal.store.events import CaseDeliveryRow, CaseLineRow, InspectionRow, ShipmentRow
from dronedeal.store.master import OrderRow, ProductRow

AGREEMENTS = ("ua-us-2025", "dk-ua-2025", "no-ua-2025")


@pytest.fixture(scope="module")
def db(demo: Demo) -> Iterator[Session]:
    engine = make_engine(demo.db_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _counted(found: list[FlowCategories]) -> Counter[tuple[str, str, dt.date]]:
    return Counter({(f.flow_id, category, month): n for f in found for month, units in f.months
                    for category, n in zip(f.categories, units, strict=True) if n})


def _from_unit_rows(db: Session, agreement_id: str,
                    as_of: dt.date) -> Counter[tuple[str, str, dt.date]]:
    """The same figures counted the slow way: every accepted unit row, every delivery."""
    out: Counter[tuple[str, str, dt.date]] = Counter()
    units = (select(OrderRow.flow_id, ProductRow.category, InspectionRow.inspected_on)
             .select_from(InspectionRow)
             .join(ShipmentRow, and_(ShipmentRow.manufacturer_id == InspectionRow.manufacturer_id,
                                     ShipmentRow.serial == InspectionRow.serial))
             .join(OrderRow, OrderRow.order_id == ShipmentRow.order_id)
             .join(ProductRow, ProductRow.product_id == ShipmentRow.product_id)
             .where(OrderRow.agreement_id == agreement_id, InspectionRow.result == "accepted",
                    InspectionRow.inspected_on <= as_of))
    for flow_id, category, on in db.execute(units):
        out[(flow_id, category, on.replace(day=1))] += 1
    cases = (select(CaseLineRow.flow_id, CaseLineRow.category, CaseDeliveryRow.delivered_on,
                    CaseDeliveryRow.quantity)
             .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                     CaseDeliveryRow.line == CaseLineRow.line))
             .where(CaseLineRow.agreement_id == agreement_id,
                    CaseDeliveryRow.delivered_on <= as_of))
    for flow_id, category, on, quantity in db.execute(cases):
        out[(flow_id, category, on.replace(day=1))] += quantity
    return out


@pytest.mark.parametrize("agreement_id", AGREEMENTS)
def test_categories_count_every_accepted_unit_once(db: Session, agreement_id: str) -> None:
    agreement = master.load_agreement(db, agreement_id)
    assert agreement is not None
    today = dt.date.today()
    middle = agreement.signed_on + (today - agreement.signed_on) / 2
    for as_of in (today, middle):
        found = deliveries_by_category(session=db, agreement=agreement, as_of=as_of)
        assert [f.flow_id for f in found] == [f.flow_id for f in agreement.flows]
        expected = _from_unit_rows(db, agreement_id, as_of)
        assert _counted(found) == expected, (agreement_id, as_of)
        # per flow and month, the categories add up to the page's deliveries per month
        months = views.deliveries_by_month(db, agreement, as_of)
        for i, flow in enumerate(f.flow_id for f in agreement.flows):
            by_month = {m.month: m.units[i] for m in months if m.units[i]}
            per_flow = next(f for f in found if f.flow_id == flow)
            assert {m: sum(units) for m, units in per_flow.months} == by_month, (flow, as_of)
    assert sum(_from_unit_rows(db, "ua-us-2025", today).values()) > 0


def test_categories_before_any_delivery_are_empty(db: Session) -> None:
    agreement = master.load_agreement(db, "ua-us-2025")
    assert agreement is not None
    found = deliveries_by_category(session=db, agreement=agreement,
                                   as_of=agreement.signed_on - dt.timedelta(days=1))
    assert [(f.categories, f.months, f.total) for f in found] == [((), (), 0)] * len(found)


def test_the_agreement_page_tables_show_the_categories(demo: Demo, db: Session) -> None:
    agreement = master.load_agreement(db, "ua-us-2025")
    assert agreement is not None
    found = deliveries_by_category(session=db, agreement=agreement, as_of=dt.date.today())
    assert sum(f.total for f in found) > 0
    with TestClient(create_app(demo.db_url, key=demo.key)) as client:
        html = client.get("/agreements/ua-us-2025").text  # the public view shows them too
    for flow in found:
        if not flow.months:
            continue
        table = re.search(rf'<table id="categories-{re.escape(flow.flow_id)}".*?</table>', html,
                          re.S)
        assert table is not None, flow.flow_id
        shown = re.findall(r'<td data-category="([^"]+)"><span class="num" '
                           r'data-figure="category-units" data-value="(\d+)"', table.group(0))
        assert shown == [(c, str(n)) for _, units in flow.months
                         for c, n in zip(flow.categories, units, strict=True)]
        assert f'aria-labelledby="categories-{flow.flow_id}-title"' in html
