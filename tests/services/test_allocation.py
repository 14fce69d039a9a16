"""Allocation on a real store: the compliance gate, open orders, the ceiling, the demand
file, and orders that import cleanly and take capacity from the next allocation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.packs import write_pack

from dronedeal.cli.allocate import orders_csv
from dronedeal.core.allocation import AllocationResult, DemandLine
from dronedeal.core.errors import RefusedError
from dronedeal.core.fx import MissingRateError
from dronedeal.core.records import Flow
from dronedeal.services import keys
from dronedeal.services.allocation import (
    UnknownFlowError,
    allocate,
    find_flow,
    read_demand,
    unshipped_by_month,
)
from dronedeal.services.importer import import_pack
from dronedeal.store import master

ON = dt.date(2026, 1, 10)
DUE = dt.date(2026, 2, 28)

PACK = {
    "parties.csv": """party_id,name,kind,country,identifier
us-dod,US Department of Defense,state,US,
ua-mod,Ministry of Defence of Ukraine,state,UA,
ua-mfr-001,Dnipro Optics LLC,manufacturer,UA,
ua-mfr-002,Vezha Aero LLC,manufacturer,UA,
ua-mfr-003,Skyline Dynamics,manufacturer,UA,
ua-mfr-004,Karpaty UAV,manufacturer,UA,
cn-mfr-001,Shenzhen Sky Co. Ltd.,manufacturer,CN,
""",
    "products.csv": """product_id,supplier_id,name,category,unit_price,currency,monthly_capacity,nsn
prd-cheap,ua-mfr-001,Cheap quad,uas.small,90.00,USD,100,
prd-a,ua-mfr-002,Vezha-7,uas.small,100.00,USD,100,
prd-b,ua-mfr-003,Skyline S,uas.small,110.00,USD,100,
prd-c,ua-mfr-004,Karpaty K,uas.small,4600.00,UAH,100,
prd-cn,cn-mfr-001,Sky quad,uas.small,50.00,USD,1000,
prd-int,ua-mfr-001,Interceptor,uas.interceptor,3000.00,USD,50,
""",
    "bom.csv": "product_id,part_number,component_category,manufacturer,manufacturer_country,"
               """origin_country,quantity
prd-cheap,FC-1,flight_controller,Dnipro Optics LLC,UA,UA,1
prd-cheap,CAM-1,camera,Shenzhen Optics Co. Ltd.,CN,CN,1
prd-a,FC-2,flight_controller,Vezha Aero LLC,UA,UA,1
prd-b,FC-3,flight_controller,Skyline Dynamics,UA,UA,1
prd-c,FC-4,flight_controller,Karpaty UAV,UA,UA,1
prd-int,FC-5,flight_controller,Shenzhen Flight Co. Ltd.,CN,CN,1
""",
    "agreements.yaml": """- agreement_id: ua-us-2025
  title: Ukraine–United States drone deal
  currency: USD
  ceiling: "1000000"
  signed_on: 2025-08-01
  ends_on: 2028-12-31
  flows:
    - flow_id: drones-to-us
      buyer_id: us-dod
      end_user_id: us-dod
      seller_country: UA
      license_required: true
      categories: ["uas.*", "cuas"]
      rulesets: [us-uas-supply-chain]
    - flow_id: weapons-to-ua
      buyer_id: ua-mod
      seller_country: US
      license_required: false
      categories: ["*"]
      rulesets: []
""",
    "fx_rates.csv": """date,base,quote,rate
2025-07-01,USD,UAH,40
""",
}
ORDERS_HEADER = ("order_id,agreement_id,flow_id,buyer_id,supplier_id,product_id,quantity,"
                 "unit_price,currency,due_on\n")


@pytest.fixture
def store(engine: Engine, tmp_path: Path, signer: keys.Signer) -> Engine:
    """The deal above, imported."""
    with Session(engine) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "pack", PACK), signer)
    return engine


def run(engine: Engine, *lines: DemandLine, share: str = "0.4",
        on: dt.date = ON) -> AllocationResult:
    with Session(engine) as session, session.begin():
        return allocate(session, agreement_id="ua-us-2025", flow_id="drones-to-us",
                        demand=list(lines), on=on, max_share=Decimal(share)).result


def demand(quantity: int, category: str = "uas.small", demand_id: str = "d1",
           due: dt.date = DUE, cap: int | None = None) -> DemandLine:
    return DemandLine(demand_id, "drones-to-us", category, quantity, due, cap,
                      "USD" if cap else None)


def quantities(result: AllocationResult) -> dict[str, int]:
    return {o.product_id: o.quantity for o in result.orders}


def import_orders(engine: Engine, folder: Path, result: AllocationResult,
                  signer: keys.Signer) -> None:
    folder.mkdir(parents=True)
    (folder / "orders.csv").write_text(orders_csv(result), encoding="utf-8")
    with Session(engine) as session, session.begin():
        import_pack(session, folder, signer)


# --- the allocation on the store ----------------------------------------------------------

def test_the_cheaper_product_with_a_covered_camera_is_skipped(store: Engine) -> None:
    # prd-cheap (90.00) has a camera made in CN: US-848-HW blocks it on a uas.* product.
    # prd-cn is cheaper still but its maker is not in the seller country.
    result = run(store, demand(100), share="1")
    assert quantities(result) == {"prd-a": 100}
    assert result.total_cost == 1_000_000
    skipped = [b for b in result.binding if b.constraint == "compliance"]
    assert [b.product_id for b in skipped] == ["prd-cheap"]
    assert "US-848-HW" in skipped[0].detail
    assert {o.product_id for o in result.problem.offers} == {"prd-cheap", "prd-a", "prd-b",
                                                             "prd-c"}


def test_share_cap_spreads_across_makers_in_both_currencies(store: Engine) -> None:
    # 40 + 40 + 20: prd-c's 4600.00 UAH is 115.00 USD at 40.
    result = run(store, demand(100))
    assert quantities(result) == {"prd-a": 40, "prd-b": 40, "prd-c": 20}
    assert result.total_cost == 400_000 + 440_000 + 230_000
    by_id = {o.product_id: o for o in result.orders}
    assert (by_id["prd-c"].unit_price, by_id["prd-c"].currency) == (460_000, "UAH")
    assert by_id["prd-c"].supplier_id == "ua-mfr-004"


def test_only_blocked_products_make_a_compliance_shortfall(store: Engine) -> None:
    # The one interceptor has a flight controller made in CN.
    result = run(store, demand(10, "uas.interceptor"), share="1")
    (unmet,) = result.unmet
    assert (unmet.demand_id, unmet.units, unmet.constraint) == ("d1", 10, "compliance")
    assert unmet.constraints == ("compliance",)
    assert "prd-int (" in unmet.detail
    assert not result.orders


def test_the_ceiling_left_counts_the_ordered_value_of_every_flow(
    store: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    # 9,990 units of prd-b at 100.00 … ordered: 999,000.00 of the 1,000,000.00 ceiling,
    # due beyond the horizon so they take no capacity here. 1,000.00 left: 10 units.
    existing = ORDERS_HEADER + ("ord-1,ua-us-2025,drones-to-us,us-dod,ua-mfr-002,prd-a,9990,"
                                "100.00,USD,2027-06-30\n")
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / "orders.csv").write_text(existing, encoding="utf-8")
    with Session(store) as session, session.begin():
        import_pack(session, folder, signer)
    result = run(store, demand(20), share="1")
    assert quantities(result) == {"prd-a": 10}
    (unmet,) = result.unmet
    assert (unmet.units, unmet.constraint, unmet.constraints) == (10, "ceiling", ("ceiling",))
    assert "1000.00 USD left" in unmet.detail


def test_imported_orders_take_capacity_from_the_next_allocation(
    store: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    # Due in January: one month of capacity, 100 units per product.
    january = dt.date(2026, 1, 31)
    first = run(store, demand(150, due=january), share="1")
    assert quantities(first) == {"prd-a": 100, "prd-b": 50}
    import_orders(store, tmp_path / "first", first, signer)
    with Session(store) as session:
        stored = {o.order_id: o for o in master.load_orders(session)}
        taken = unshipped_by_month(session, product_ids=["prd-a", "prd-b"],
                                   first=dt.date(2026, 1, 1), last=dt.date(2026, 12, 31))
    assert (stored["alloc-d1-prd-a"].quantity, stored["alloc-d1-prd-a"].due_on) == (100, january)
    assert stored["alloc-d1-prd-b"].buyer_id == "us-dod"
    assert taken == {("prd-a", dt.date(2026, 1, 1)): 100, ("prd-b", dt.date(2026, 1, 1)): 50}
    # The same demand again: what is left is 50 of prd-b and 100 of prd-c (115.00), and
    # the new orders never reuse the ids of the stored ones.
    second = run(store, demand(150, due=january), share="1")
    assert {(o.order_id, o.quantity) for o in second.orders} == {
        ("alloc-d1-prd-b.2", 50), ("alloc-d1-prd-c", 100)}
    import_orders(store, tmp_path / "second", second, signer)
    with Session(store) as session:
        orders = {o.order_id: o.quantity for o in master.load_orders(session)}
    assert orders == {"alloc-d1-prd-a": 100, "alloc-d1-prd-b": 50, "alloc-d1-prd-b.2": 50,
                      "alloc-d1-prd-c": 100}
    third = run(store, demand(150, due=january), share="1")
    assert not third.orders
    assert [(u.units, u.constraint) for u in third.unmet] == [(150, "capacity")]


def test_an_open_order_takes_the_capacity_of_its_due_month_only(
    store: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    # SPEC §4: a product makes at most monthly_capacity units a month, less the
    # unshipped units of its open orders due in that month. 150 units of prd-a due in
    # February were planned over January and February, but once ordered they take
    # February's capacity: January's 100 units stay free for the next allocation.
    first = run(store, demand(150), share="1")
    assert quantities(first) == {"prd-a": 150}
    import_orders(store, tmp_path / "first", first, signer)
    second = run(store, demand(150), share="1")
    assert quantities(second) == {"prd-a": 100, "prd-b": 50}


def test_a_price_without_a_rate_is_refused(store: Engine, tmp_path: Path,
                                           signer: keys.Signer) -> None:
    products = PACK["products.csv"] + "prd-eur,ua-mfr-003,Euro quad,uas.small,95.00,EUR,10,\n"
    bom = PACK["bom.csv"] + "prd-eur,FC-9,flight_controller,Skyline Dynamics,UA,UA,1\n"
    with Session(store) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "eur", {"parties.csv": PACK["parties.csv"],
                                                           "products.csv": products,
                                                           "bom.csv": bom}), signer)
    with pytest.raises(MissingRateError, match="no EUR→USD rate on or before 2026-01-10"):
        run(store, demand(10))


def test_unknown_agreement_or_flow(store: Engine) -> None:
    with Session(store) as session:
        with pytest.raises(UnknownFlowError, match=r"no agreement 'ua-xx'.*ua-us-2025"):
            find_flow(session, agreement_id="ua-xx", flow_id="drones-to-us")
        with pytest.raises(UnknownFlowError, match=r"no flow 'drones'.*drones-to-us"):
            find_flow(session, agreement_id="ua-us-2025", flow_id="drones")


# --- the demand file ------------------------------------------------------------------------

FLOW = Flow("drones-to-us", "us-dod", "us-dod", "UA", True, ("uas.*", "cuas"),
            ("us-uas-supply-chain",))
HEADER = "demand_id,flow_id,category,quantity,due_on,max_unit_price,currency\n"


def test_demand_csv_is_read_with_caps_in_the_agreement_currency_by_default(
    tmp_path: Path
) -> None:
    path = tmp_path / "demand.csv"
    path.write_text(HEADER + "d1,drones-to-us,uas.small,100,2026-02-28,,\n"
                             "d2,drones-to-us,cuas,5,2026-03-31,850.50,\n"
                             "d3,drones-to-us,uas.tactical,7,2026-04-30,35000,UAH\n",
                    encoding="utf-8")
    lines = read_demand(path, flow=FLOW, currency="USD")
    assert lines == [
        DemandLine("d1", "drones-to-us", "uas.small", 100, DUE, None, None),
        DemandLine("d2", "drones-to-us", "cuas", 5, dt.date(2026, 3, 31), 85_050, "USD"),
        DemandLine("d3", "drones-to-us", "uas.tactical", 7, dt.date(2026, 4, 30), 3_500_000,
                   "UAH"),
    ]


def test_demand_errors_name_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "demand.csv"
    path.write_text(HEADER + "d1,drones-to-us,uas.hover,100,2026-02-28,,\n"
                             "d2,weapons-to-ua,uas.small,10,2026-02-28,,\n"
                             "d3,drones-to-us,ew,10,2026-02-28,,\n"
                             "d4,drones-to-us,uas.small,0,2026-02-30,,\n"
                             "d1,drones-to-us,uas.small,10,2026-02-28,1.234,USD\n",
                    encoding="utf-8")
    with pytest.raises(RefusedError) as refused:
        read_demand(path, flow=FLOW, currency="USD")
    lines = [str(e) for e in refused.value.errors]
    assert lines[0].startswith("demand.csv:2: category: ")
    assert lines[1] == ("demand.csv:3: flow_id: flow_id \"weapons-to-ua\" is not the flow "
                        "being allocated (--flow drones-to-us); allocate one flow at a time")
    assert lines[2] == ("demand.csv:4: category: category ew is not traded in flow "
                        "drones-to-us (uas.*, cuas)")
    assert [e.column for e in refused.value.errors[3:]] == [
        "quantity", "due_on", "max_unit_price", "demand_id"]
    assert "row 2 has it already" in lines[6]


def test_demand_from_an_xlsx_sheet(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "demand"
    sheet.append([c.strip() for c in HEADER.split(",")])
    sheet.append(["d1", "drones-to-us", "uas.small", 100, dt.datetime(2026, 2, 28), 805.5,
                  "USD"])
    book.save(tmp_path / "demand.xlsx")
    assert read_demand(tmp_path / "demand.xlsx", flow=FLOW, currency="USD") == [
        DemandLine("d1", "drones-to-us", "uas.small", 100, DUE, 80_550, "USD")]
    sheet.title = "lines"
    book.save(tmp_path / "other.xlsx")
    with pytest.raises(RefusedError) as refused:
        read_demand(tmp_path / "other.xlsx", flow=FLOW, currency="USD")
    assert str(refused.value.errors[0]) == (
        "other.xlsx:0: *: the workbook has no sheet named \"demand\" (it has: lines)")


def test_an_empty_demand_or_another_kind_of_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "demand.csv").write_text(HEADER, encoding="utf-8")
    with pytest.raises(RefusedError, match="the demand has no lines"):
        read_demand(tmp_path / "demand.csv", flow=FLOW, currency="USD")
    (tmp_path / "demand.xlsx").write_text(HEADER, encoding="utf-8")
    with pytest.raises(RefusedError, match="not a readable Excel workbook"):
        read_demand(tmp_path / "demand.xlsx", flow=FLOW, currency="USD")
    (tmp_path / "demand.txt").write_text(HEADER, encoding="utf-8")
    with pytest.raises(RefusedError, match=r"a demand is a \.csv file or an \.xlsx workbook"):
        read_demand(tmp_path / "demand.txt", flow=FLOW, currency="USD")
