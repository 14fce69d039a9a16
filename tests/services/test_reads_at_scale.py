"""The fast read paths behind the dashboard and the API (issue #8) give what the slow
ones gave: conversions in integers equal `RateTable.convert`; balances at many dates
from one ledger read equal `ledger.balances` at each; lots listed from `unit_tally`
equal the unit rows grouped; a unit is found by serial alone; findings and payments
read at once equal the pages. On SQLite, or PostgreSQL with DRONEDEAL_TEST_DB.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.orm import Session
from tests.services.test_position import SCENARIO_EVENTS, SCENARIO_MASTER, import_files

from dronedeal.core.fx import RateTable
from dronedeal.core.position import EXACT_BITS, Batch, BatchConverter, totals_by_flow
from dronedeal.core.records import FxRate
from dronedeal.services import access, keys, ledger, position
from dronedeal.services.users import User
from dronedeal.store import reports, tallies
from dronedeal.store.events import InspectionRow, ShipmentRow
from dronedeal.store.master import OrderRow

D = dt.date
ADMIN = User("u-admin", "admin", "admin", None, None)
MAKER = User("u-maker", "maker", "manufacturer", "ua-mfr-001", "UA")
INSPECTOR = User("u-inspector", "inspector", "inspector", "us-dod", "US")
DANISH_INSPECTOR = User("u-dk", "dk", "inspector", "dk-mod", "DK")


@pytest.fixture
def scenario(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    import_files(engine, tmp_path, {**SCENARIO_MASTER, **SCENARIO_EVENTS},
                 keys.load_signer(path))
    return engine


# --- conversion in integers ----------------------------------------------------------------

RATES = RateTable([FxRate(D(2025, 1, 1), "USD", "UAH", Decimal("41.5237")),
                   FxRate(D(2025, 6, 1), "USD", "UAH", Decimal("40.0001")),
                   FxRate(D(2025, 1, 1), "EUR", "JPY", Decimal("161.337")),
                   FxRate(D(2025, 1, 1), "KWD", "USD", Decimal("3.2571"))])
PAIRS = [("USD", "UAH"), ("UAH", "USD"), ("EUR", "JPY"), ("JPY", "EUR"), ("KWD", "USD"),
         ("USD", "KWD"), ("USD", "USD")]


@settings(max_examples=400, deadline=None)
@given(minor=st.one_of(st.integers(0, 10**12), st.integers(0, 10**40)),
       pair=st.sampled_from(PAIRS), day=st.sampled_from([D(2025, 3, 1), D(2025, 7, 1)]))
def test_batch_conversion_equals_the_rate_table(minor: int, pair: tuple[str, str],
                                                day: D) -> None:
    source, target = pair
    assert BatchConverter(RATES).convert(minor, source, target, day) == RATES.convert(
        minor, source, target, day)


def test_batch_conversion_rounds_half_to_even_and_falls_back_beyond_exact_digits() -> None:
    rates = RateTable([FxRate(D(2025, 1, 1), "USD", "EUR", Decimal("0.5"))])
    converter = BatchConverter(rates)
    assert [converter.convert(m, "USD", "EUR", D(2025, 2, 1)) for m in (1, 3, 5, 7)] == [
        0, 2, 2, 4]
    huge = 2 ** (EXACT_BITS + 8) + 1
    assert converter.convert(huge, "USD", "EUR", D(2025, 2, 1)) == rates.convert(
        huge, "USD", "EUR", D(2025, 2, 1))


# --- balances at many dates -------------------------------------------------------------

def test_balances_at_month_ends_equal_the_ledger_at_each(scenario: Engine) -> None:
    days = [D(2025, 7, 31), D(2025, 9, 14), D(2025, 9, 15), D(2025, 9, 30), D(2025, 10, 31),
            D(2025, 11, 30), D(2026, 6, 30)]
    with Session(scenario) as session:
        for agreement_id in ("ua-us-2025", "dk-ua-2025"):
            at = position.balances_at(session=session, agreement_id=agreement_id, days=days)
            assert at == [ledger.balances(session, agreement_id, day) for day in days]
            assert at[0] == {}
            assert at[-1]


@pytest.mark.parametrize("history_first", [False, True])
def test_the_position_balances_equal_the_ledger_at_each_date(scenario: Engine,
                                                             history_first: bool) -> None:
    """The position's balances are the ledger's, whether they are read alone or summed
    from the daily changes the balance history read first (as the agreement page does)."""
    for day in (D(2025, 9, 14), D(2025, 9, 30), D(2025, 11, 30), D(2026, 6, 30)):
        with Session(scenario) as session:
            for agreement_id in ("ua-us-2025", "dk-ua-2025"):
                if history_first:
                    position.balances_at(session=session, agreement_id=agreement_id,
                                         days=[D(2025, 8, 31), day])
                key = ("balance_changes", agreement_id, day)
                assert reports.computed_per_state(session, key) == history_first
                report = position.position(session=session, agreement_id=agreement_id,
                                           as_of=day)
                expected = ledger.balances(session, agreement_id, day)
                shown = {p.party_id: p.balance for p in report.parties}
                if report.fund is not None and report.fund.party_id in expected:
                    shown[report.fund.party_id] = report.fund.balance
                assert shown == expected


def _per_lot_batches(session: Session, agreement_id: str, as_of: D,
                     event: str) -> list[Batch]:
    """The tally's batches one per (flow, lot, day, currency), as the ledger posts them."""
    t, o = tallies.UnitTallyRow, OrderRow
    query = (select(o.flow_id, t.day, o.currency, func.sum(t.units),
                    func.sum(t.units * o.unit_price))
             .join(o, o.order_id == t.order_id)
             .where(o.agreement_id == agreement_id, t.event == event, t.day <= as_of)
             .group_by(o.flow_id, t.lot_id, t.day, o.currency))
    return [Batch(f, day, c, int(n), int(v)) for f, day, c, n, v in session.execute(query)]


#: two more lots of the USD order of ua-us-2025, shipped and accepted on one day each
TWO_LOTS_ONE_DAY = {
    "shipments.csv": "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
                     "S-0009,prd-0001,L-4,ord-0001,lic-0001,2025-12-01\n"
                     "S-0010,prd-0001,L-5,ord-0001,lic-0001,2025-12-01\n",
    "inspections.csv": "serial,product_id,result,reason,inspected_on\n"
                       "S-0009,prd-0001,accepted,,2025-12-05\n"
                       "S-0010,prd-0001,accepted,,2025-12-05\n"}


@pytest.mark.parametrize("as_of", [D(2025, 9, 30), D(2026, 6, 30)])
def test_batches_in_the_agreement_currency_merge_lots_without_changing_a_figure(
        scenario: Engine, tmp_path: Path, as_of: D) -> None:
    signer = keys.load_signer(tmp_path / "keys" / "signing.key")
    import_files(scenario, tmp_path, TWO_LOTS_ONE_DAY, signer)
    with Session(scenario) as session:
        for agreement_id in ("ua-us-2025", "dk-ua-2025"):
            currency = position.load_agreement(session=session,
                                               agreement_id=agreement_id).currency
            read = reports.unit_batches(session, agreement_id, as_of)
            rates = position.converter(session)
            for event, batches in ((tallies.SHIPPED, read.shipped),
                                   (tallies.ACCEPTED, read.accepted),
                                   (tallies.REJECTED, read.rejected)):
                per_lot = _per_lot_batches(session, agreement_id, as_of, event)
                assert totals_by_flow(batches, rates, currency) == totals_by_flow(
                    per_lot, rates, currency), (agreement_id, event)
                # lots in a foreign currency stay apart: each is rounded on its own
                assert sorted(b for b in batches if b.currency != currency) == sorted(
                    b for b in per_lot if b.currency != currency)
                own = [(b.flow_id, b.on) for b in batches if b.currency == currency]
                assert len(own) == len(set(own)), "one batch per flow and day"
        if as_of > D(2025, 12, 5):
            accepted = reports.unit_batches(session, "ua-us-2025", as_of).accepted
            assert Batch("drones-to-us", D(2025, 12, 5), "USD", 2, 840_000) in accepted


# --- lots and units ---------------------------------------------------------------------

def _lots_from_unit_rows(session: Session, viewer: User) -> list[dict[str, Any]]:
    """The lot listing computed from the unit rows (what `list_lots` read before)."""
    s, i = ShipmentRow, InspectionRow
    query = (select(s.lot_id, s.manufacturer_id, func.min(s.product_id), func.min(s.order_id),
                    func.count(), func.min(s.shipped_on), func.max(s.shipped_on),
                    func.sum(case((i.result == "accepted", 1), else_=0)),
                    func.sum(case((i.result == "rejected", 1), else_=0)))
             .outerjoin(i, and_(i.manufacturer_id == s.manufacturer_id, i.serial == s.serial))
             .group_by(s.lot_id, s.manufacturer_id).order_by(s.lot_id, s.manufacturer_id))
    if viewer.role == "manufacturer":
        query = query.where(s.manufacturer_id == viewer.party_id)
    elif viewer.role == "inspector":
        query = query.where(s.order_id.in_(select(OrderRow.order_id)
                                           .where(OrderRow.buyer_id == viewer.party_id)))
    return [{"lot_id": lot, "manufacturer_id": maker, "product_id": product,
             "order_id": order, "units": int(units), "shipped_from": first.isoformat(),
             "shipped_to": last.isoformat(), "accepted": int(ok), "rejected": int(bad)}
            for lot, maker, product, order, units, first, last, ok, bad
            in session.execute(query)]


@pytest.mark.parametrize("viewer", [ADMIN, MAKER, INSPECTOR, DANISH_INSPECTOR],
                         ids=lambda u: u.name)
def test_lots_from_the_tally_equal_the_unit_rows_grouped(scenario: Engine,
                                                        viewer: User) -> None:
    with Session(scenario) as session:
        expected = _lots_from_unit_rows(session, viewer)
        listed: list[dict[str, Any]] = []
        after = None
        for _ in range(len(expected) + 1):  # pages of two: the keyset carries over
            items, after = access.list_lots(session, viewer, after=after, limit=2)
            listed += items
            if after is None:
                break
        assert listed == expected
        assert expected, "every viewer here sees some lot"
        for lot in expected:
            found = access.get_lot(session, viewer, lot["lot_id"])
            assert lot in found["parts"]
            assert len(found["serials"]) == sum(p["units"] for p in found["parts"])


def test_a_unit_is_found_by_serial_alone_within_the_viewers_scope(scenario: Engine) -> None:
    with Session(scenario) as session:
        unit = access.get_unit(session, ADMIN, "S-0102")
        assert unit["shipment"]["manufacturer_id"] == "ua-mfr-001"
        assert unit["shipment"]["lot_id"] == "DK-2"
        assert unit["inspection"]["result"] == "accepted"
        assert access.get_unit(session, DANISH_INSPECTOR, "S-0102")["serial"] == "S-0102"
        with pytest.raises(access.NotVisibleError):
            access.get_unit(session, INSPECTOR, "S-0102")  # a Danish order's unit
        with pytest.raises(access.NotVisibleError):
            access.get_unit(session, ADMIN, "S-9999")
        with pytest.raises(access.NotVisibleError):
            access.get_unit(session, ADMIN, "S-0102", manufacturer_id="ua-mfr-002")


# --- findings and payments read at once ---------------------------------------------------

COVERED_BOM = """product_id,part_number,component_category,manufacturer,manufacturer_country,origin_country,quantity
prd-0001,FC-100,flight_controller,Shenzhen Parts,CN,CN,1
prd-0001,CAM-1,camera,Shenzhen Optics,CN,CN,1
prd-0005,FC-200,flight_controller,Shenzhen Parts,CN,CN,1
"""  # noqa: E501


def test_all_findings_equal_the_pages_of_the_listing(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    import_files(engine, tmp_path, {**SCENARIO_MASTER, "bom.csv": COVERED_BOM},
                 keys.load_signer(path))
    on = D(2025, 10, 1)
    with Session(engine) as session, session.begin():
        for viewer in (ADMIN, MAKER):
            every = access.all_findings(session, viewer, on=on)
            paged: list[dict[str, Any]] = []
            after = None
            for _ in range(len(every) + 1):
                items, after = access.list_findings(session, viewer, on=on, after=after,
                                                    limit=1)
                paged += items
                if after is None:
                    break
            assert paged == every
            assert [f["product_id"] for f in every] == sorted(f["product_id"] for f in every)
            assert every, "covered parts give findings"
        assert {f["product_id"] for f in access.all_findings(session, MAKER, on=on)} == {
            "prd-0001"}
        assert {f["product_id"] for f in access.all_findings(session, ADMIN, on=on)} == {
            "prd-0001", "prd-0005"}


def test_payments_of_one_agreement_are_the_listing_filtered(scenario: Engine) -> None:
    with Session(scenario) as session:
        every, more = access.list_payments(session, ADMIN, limit=access.MAX_LIMIT)
        assert more is None
        for agreement_id in ("ua-us-2025", "dk-ua-2025"):
            page, _ = access.list_payments(session, ADMIN, agreement_id=agreement_id,
                                           limit=access.MAX_LIMIT)
            assert page == [p for p in every if p["agreement_id"] == agreement_id]
            assert page


def test_recent_payments_are_the_latest_of_the_listing_oldest_first(scenario: Engine) -> None:
    with Session(scenario) as session:
        every, _ = access.list_payments(session, ADMIN, limit=access.MAX_LIMIT)
        for as_of, count in ((D(2025, 10, 14), 0), (D(2025, 10, 31), 2), (D(2026, 12, 31), 3)):
            shown = sorted((p for p in every if p["agreement_id"] == "ua-us-2025"
                            and p["paid_on"] <= as_of.isoformat()),
                           key=lambda p: (p["paid_on"], p["payment_id"]))
            assert len(shown) == count
            for limit in (1, 2, access.MAX_LIMIT):
                assert access.recent_payments(session, ADMIN, agreement_id="ua-us-2025",
                                              as_of=as_of, limit=limit) == shown[-limit:]
        assert [p["payment_id"] for p in access.recent_payments(
            session, ADMIN, agreement_id="ua-us-2025", as_of=D(2026, 1, 1), limit=2)] == [
            "P-2", "P-3"]


@pytest.mark.parametrize("viewer", [ADMIN, MAKER, INSPECTOR, DANISH_INSPECTOR],
                         ids=lambda u: u.name)
def test_units_by_manufacturer_sum_the_lots(scenario: Engine, viewer: User) -> None:
    with Session(scenario) as session:
        expected: dict[str, dict[str, int]] = {}
        for lot in _lots_from_unit_rows(session, viewer):
            sums = expected.setdefault(lot["manufacturer_id"],
                                       {"shipped": 0, "accepted": 0, "rejected": 0})
            sums["shipped"] += lot["units"]
            sums["accepted"] += lot["accepted"]
            sums["rejected"] += lot["rejected"]
        assert access.units_by_manufacturer(session, viewer) == expected
        assert expected


def test_a_session_reads_the_batches_once_per_state_of_the_log(engine: Engine,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    signer = keys.load_signer(path)
    shipments = {"shipments.csv": SCENARIO_EVENTS["shipments.csv"]}
    import_files(engine, tmp_path, {**SCENARIO_MASTER, **shipments}, signer)
    day = D(2025, 12, 31)
    with Session(engine) as session:
        first = reports.unit_batches(session, "ua-us-2025", day)
        again = reports.unit_batches(session, "ua-us-2025", day)
        assert again.shipped is first.shipped  # read once
        accepted = reports.unit_batches(session, "ua-us-2025", day, [tallies.ACCEPTED])
        assert accepted.accepted is first.accepted
        assert accepted.shipped == []
        assert position.converter(session) is position.converter(session)
        converter = position.converter(session)
        before = position.position(session=session, agreement_id="ua-us-2025", as_of=day)
        assert sum(f.accepted.units for f in before.flows) == 0
        session.rollback()  # the next transaction sees what others committed meanwhile
        import_files(engine, tmp_path, {"inspections.csv": SCENARIO_EVENTS["inspections.csv"]},
                     signer)
        after = position.position(session=session, agreement_id="ua-us-2025", as_of=day)
        assert reports.unit_batches(session, "ua-us-2025", day).shipped is not first.shipped
        assert position.converter(session) is not converter
    with Session(engine) as fresh:
        assert after == position.position(session=fresh, agreement_id="ua-us-2025", as_of=day)
    assert sum(f.accepted.units for f in after.flows) == 9
    assert after.parties != before.parties  # the balances were read again too
