"""The streaming primitives event imports build on, and exact decimals from spreadsheets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook
from tests.pack.pack_samples import where, write_csv_pack

from dronedeal.core.errors import RowError
from dronedeal.core.iso import CURRENCY_DIGITS
from dronedeal.core.money import format_amount, parse_amount
from dronedeal.pack import DEMAND, RawRow, TableSource, TypedRow, iter_table, iter_typed, read_pack
from dronedeal.pack.cells import spreadsheet_text

SHIPMENTS = "serial,product_id,lot_id,order_id,license_id,shipped_on\n"


def test_iter_table_streams_raw_rows_and_errors_in_file_order(tmp_path: Path) -> None:
    path = tmp_path / "shipments.csv"
    path.write_text(SHIPMENTS + "SN-1,sw-q4,lot-1,o-1,lic-1,2025-10-01\n"
                    "SN-2,sw-q4,lot-1,o-1\n"
                    " SN-3 ,sw-q4,lot-1,o-1,,2025-10-02\n")

    items = iter_table(TableSource("shipments", path))

    assert isinstance(items, Iterator)
    first, second, third = list(items)
    assert first == RawRow(2, {"serial": "SN-1", "product_id": "sw-q4", "lot_id": "lot-1",
                               "order_id": "o-1", "license_id": "lic-1",
                               "shipped_on": "2025-10-01"})
    assert isinstance(second, RowError)
    assert (second.row, second.column) == (3, "*")
    assert isinstance(third, RawRow)
    assert third.values["serial"] == "SN-3"  # stripped
    assert third.values["license_id"] is None  # a flow without licenses leaves it empty


def test_iter_typed_yields_typed_rows_or_cell_errors(tmp_path: Path) -> None:
    path = tmp_path / "inspections.csv"
    path.write_text("serial,product_id,result,reason,inspected_on\n"
                    "SN-1,sw-q4,accepted,,2025-10-03\n"
                    "SN-2,sw-q4,acepted,,2025-10-03\n"
                    "SN-3,sw-q4,rejected,cracked frame,2025-10-03\n")

    items = list(iter_typed(TableSource("inspections", path)))

    assert items[0] == TypedRow(2, {"serial": "SN-1", "product_id": "sw-q4",
                                    "result": "accepted", "reason": None,
                                    "inspected_on": dt.date(2025, 10, 3)})
    assert isinstance(items[1], RowError)
    assert where([items[1]]) == [("inspections.csv", 3, "result")]
    assert '"acepted" is not a known inspection result; did you mean "accepted"?' in \
        items[1].message
    assert isinstance(items[2], TypedRow)
    assert items[2].values["reason"] == "cracked frame"


def test_event_sheet_streams_from_a_workbook(tmp_path: Path) -> None:
    book = Workbook()
    assert book.active is not None
    sheet = book.active
    sheet.title = "payments"
    sheet.append(["payment_id", "agreement_id", "payer_id", "payee_id", "amount", "currency",
                  "paid_on"])
    sheet.append(["pay-1", "ua-us-2025", "us-dod", "skyworks", 1234567.89, "USD",
                  dt.date(2025, 11, 1)])
    book.save(tmp_path / "events.xlsx")

    items = list(iter_typed(TableSource("payments", tmp_path / "events.xlsx", "payments")))

    assert items == [TypedRow(2, {"payment_id": "pay-1", "agreement_id": "ua-us-2025",
                                  "payer_id": "us-dod", "payee_id": "skyworks",
                                  "amount": 123456789, "currency": "USD",
                                  "paid_on": dt.date(2025, 11, 1), "reference": None})]


def test_demand_is_not_a_pack_table_but_reads_with_its_spec(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    demand = tmp_path / "demand.csv"
    demand.write_text("demand_id,flow_id,category,quantity,due_on,max_unit_price,currency\n"
                      "d-1,drones-to-us,uas.small,500,2026-01-31,1300.00,\n")

    pack_errors = read_pack(tmp_path).errors
    items = list(iter_typed(TableSource("demand", demand), DEMAND))

    assert where(pack_errors) == [("demand.csv", 0, "*")]
    assert "allocate --demand" in pack_errors[0].message
    assert where([i for i in items if isinstance(i, RowError)]) == [("demand.csv", 2,
                                                                     "currency")]


def test_float_cell_41_3_is_41_3() -> None:
    assert spreadsheet_text(41.3) == "41.3"
    assert spreadsheet_text(1250.0) == "1250"
    assert spreadsheet_text(1e16) == "10000000000000000"
    assert spreadsheet_text(dt.datetime(2025, 8, 1, 13, 5)) == "2025-08-01"


@given(st.sampled_from(sorted(CURRENCY_DIGITS)), st.integers(-(10**18), 10**18))
def test_parse_of_format_amount_round_trips(currency: str, minor: int) -> None:
    assert parse_amount(format_amount(minor, currency), currency) == minor


@given(st.decimals(min_value=0, max_value=Decimal("9999999999999.99"), places=2,
                   allow_nan=False, allow_infinity=False))
def test_a_number_cell_reads_as_the_decimal_it_displays(amount: Decimal) -> None:
    # A spreadsheet holds 1250.05 as a binary float; its shortest round-trip decimal is
    # exactly what was typed, for every amount of up to 15 significant digits.
    text = spreadsheet_text(float(amount))
    assert text is not None
    assert parse_amount(text, "USD") == parse_amount(f"{amount:f}", "USD")
