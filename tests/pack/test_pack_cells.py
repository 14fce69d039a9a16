"""Each kind of bad cell is one error at its exact file, row and column, and nothing else.

Row numbers are the CSV lines a clerk sees: the header is row 1, data row i is i + 2.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.pack.pack_samples import ROWS, Cell, table_csv, where, with_cell, write_csv_pack

from dronedeal.core.errors import RowError
from dronedeal.pack import read_pack


def only_error(folder: Path, **tables: str | None) -> RowError:
    errors = read_pack(write_csv_pack(folder, **tables)).errors
    assert len(errors) == 1, [str(e) for e in errors]
    return errors[0]


@pytest.mark.parametrize(
    ("cell", "phrase"),
    [
        (("bom", 1, "quantity", 0), "must be greater than 0"),
        (("bom", 1, "quantity", "two"), "is not a whole number"),
        (("bom", 1, "quantity", "2.5"), "is not a whole number"),
        (("products", 1, "monthly_capacity", -1), "must be 0 or more"),
        (("licenses", 0, "max_quantity", "1 000"), "thousands separator"),
    ],
)
def test_type_errors_in_counts(tmp_path: Path, cell: tuple[str, int, str, Cell],
                               phrase: str) -> None:
    table, index, column, _ = cell
    error = only_error(tmp_path, **{table: with_cell(*cell)})

    assert (error.file, error.row, error.column) == (f"{table}.csv", index + 2, column)
    assert phrase in error.message


def test_id_syntax(tmp_path: Path) -> None:
    error = only_error(tmp_path, bom=with_cell("bom", 2, "part_number", "GNSS 1"))

    assert where([error]) == [("bom.csv", 4, "part_number")]
    assert '"GNSS 1" is not a valid id' in error.message
    assert "no spaces" in error.message


def test_id_longer_than_64_characters(tmp_path: Path) -> None:
    error = only_error(tmp_path, bom=with_cell("bom", 0, "part_number", "P" * 65))

    assert where([error]) == [("bom.csv", 2, "part_number")]
    assert "longer than 64 characters" in error.message


@pytest.mark.parametrize(("value", "phrase"), [
    ("UKR", "is not an ISO 3166-1 alpha-2 country code"),
    ("ua", "must be written in capitals: UA"),
])
def test_country_code(tmp_path: Path, value: str, phrase: str) -> None:
    error = only_error(tmp_path, parties=with_cell("parties", 1, "country", value))

    assert where([error]) == [("parties.csv", 3, "country")]
    assert phrase in error.message


def test_unknown_currency_is_reported_and_its_amount_is_not_checked(tmp_path: Path) -> None:
    products = with_cell("products", 2, "currency", "XYZ")  # unit_price 3000 unchecked

    error = only_error(tmp_path, products=products)

    assert where([error]) == [("products.csv", 4, "currency")]
    assert "not an ISO 4217 currency code" in error.message


@pytest.mark.parametrize(
    ("cell", "phrase"),
    [
        (("parties", 0, "kind", "vendor"),
         '"vendor" is not a known party kind; use one of: state, agency, manufacturer,'),
        (("products", 0, "category", "uas.smal"), 'did you mean "uas.small"?'),
        (("bom", 0, "component_category", "autopilot"), "is not a known component category"),
    ],
)
def test_vocabularies(tmp_path: Path, cell: tuple[str, int, str, Cell], phrase: str) -> None:
    table, index, column, _ = cell
    error = only_error(tmp_path, **{table: with_cell(*cell)})

    assert where([error]) == [(f"{table}.csv", index + 2, column)]
    assert phrase in error.message


@pytest.mark.parametrize(("value", "phrase"), [
    ("2025-02-30", "is not a date that exists"),
    ("01/10/2025", "write it as YYYY-MM-DD"),
])
def test_dates(tmp_path: Path, value: str, phrase: str) -> None:
    error = only_error(tmp_path, orders=with_cell("orders", 1, "due_on", value))

    assert where([error]) == [("orders.csv", 3, "due_on")]
    assert phrase in error.message


def test_license_period_ends_before_it_starts(tmp_path: Path) -> None:
    error = only_error(tmp_path, licenses=with_cell("licenses", 0, "valid_to", "2025-07-31"))

    assert where([error]) == [("licenses.csv", 2, "valid_to")]
    assert "is before valid_from" in error.message


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("1250.005", "has 3 decimals but USD has 2"),
        ("1,250.00", "has a thousands separator"),
        ("1.25e3", "has an exponent"),
        ("-5", "must be zero or more"),
    ],
    ids=["too-many-decimals", "thousands-separator", "exponent", "negative"],
)
def test_amounts(tmp_path: Path, value: str, phrase: str) -> None:
    error = only_error(tmp_path, products=with_cell("products", 0, "unit_price", value))

    assert where([error]) == [("products.csv", 2, "unit_price")]
    assert phrase in error.message


def test_amount_is_checked_in_the_currency_of_its_row(tmp_path: Path) -> None:
    products = with_cell("products", 2, "currency", "JPY")  # unit_price 3000 is fine in JPY
    rows = [list(r) for r in ROWS["products"]]
    rows[2][5], rows[2][4] = "JPY", "3000.5"

    assert read_pack(write_csv_pack(tmp_path / "ok", products=products)).errors == []
    error = only_error(tmp_path / "bad", products=table_csv("products",
                                                            [tuple(r) for r in rows]))
    assert where([error]) == [("products.csv", 4, "unit_price")]
    assert "JPY has 0" in error.message


def test_required_cell_left_empty(tmp_path: Path) -> None:
    error = only_error(tmp_path, parties=with_cell("parties", 2, "name", None))

    assert where([error]) == [("parties.csv", 4, "name")]
    assert "name is empty" in error.message


def test_duplicate_id_names_the_row_of_the_first(tmp_path: Path) -> None:
    rows = [*ROWS["parties"], ("skyworks", "Skyworks again", "manufacturer", "UA", None)]

    error = only_error(tmp_path, parties=table_csv("parties", rows))

    assert where([error]) == [("parties.csv", 8, "party_id")]
    assert 'duplicate party_id "skyworks": row 6 has it already' in error.message


def test_duplicate_composite_key_is_a_row_error(tmp_path: Path) -> None:
    rows = [*ROWS["bom"], ROWS["bom"][0]]

    error = only_error(tmp_path, bom=table_csv("bom", rows))

    assert where([error]) == [("bom.csv", 5, "*")]
    assert 'product_id "sw-q4", part_number "FC-7": row 2 has them already' in error.message


def test_several_errors_come_sorted_by_file_then_row(tmp_path: Path) -> None:
    pack = read_pack(write_csv_pack(
        tmp_path,
        parties=with_cell("parties", 3, "country", "XX"),
        bom=table_csv("bom", [("sw-q4", "FC 7", "radar", "X", "UA", "UA", 0)]),
        fx_rates=with_cell("fx_rates", 0, "rate", "-1"),
    ))

    assert where(pack.errors) == [
        ("bom.csv", 2, "part_number"), ("bom.csv", 2, "component_category"),
        ("bom.csv", 2, "quantity"),
        ("fx_rates.csv", 2, "rate"),
        ("parties.csv", 5, "country"),
    ]
    assert str(pack.errors[3]) == \
        "fx_rates.csv:2: rate: rate '-1' is not a positive decimal number such as 41.3"
