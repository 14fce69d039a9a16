"""Errors about a file as a whole: its name, its header, its encoding, its workbook."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from openpyxl import Workbook
from tests.pack.pack_samples import header, table_csv, where, write_csv_pack, write_xlsx_pack

from dronedeal.core.errors import RowError
from dronedeal.pack import read_pack

PARTIES_ROW = "us-dod,US Department of Defense,agency,US,\n"


def errors_with(folder: Path, **tables: str | None) -> list[RowError]:
    return read_pack(write_csv_pack(folder, **tables)).errors


def test_missing_column(tmp_path: Path) -> None:
    errors = errors_with(tmp_path, parties="party_id,name,kind,identifier\nx,X,agency,\n")

    assert where(errors) == [("parties.csv", 1, "country")]
    assert 'column "country" is missing' in errors[0].message
    assert "party_id, name, kind, country, identifier?" in errors[0].message


def test_extra_column(tmp_path: Path) -> None:
    errors = errors_with(tmp_path, parties=header("parties") + ",colour\n")

    assert where(errors) == [("parties.csv", 1, "colour")]
    assert 'column "colour" is not a column of parties; delete it' in errors[0].message


def test_misspelt_column_is_one_error_with_a_suggestion(tmp_path: Path) -> None:
    text = "party_id,name,kind,contry,identifier\n" + PARTIES_ROW

    errors = errors_with(tmp_path, parties=text)

    assert where(errors) == [("parties.csv", 1, "contry")]
    assert 'did you mean "country"?' in errors[0].message


def test_columns_out_of_order(tmp_path: Path) -> None:
    errors = errors_with(tmp_path, parties="party_id,kind,name,country\n")

    assert where(errors) == [("parties.csv", 1, "kind")]
    assert "out of order" in errors[0].message


def test_a_header_error_stops_the_table_rows(tmp_path: Path) -> None:
    text = "party_id,name,kind,country,identifier,colour\nbad id,,nope,XX,,red\n"

    assert len(errors_with(tmp_path, parties=text)) == 1


def test_values_separated_by_semicolons(tmp_path: Path) -> None:
    errors = errors_with(tmp_path, parties="party_id;name;kind;country\n")

    assert where(errors) == [("parties.csv", 1, "*")]
    assert "separated by ';'" in errors[0].message


def test_row_with_a_missing_comma(tmp_path: Path) -> None:
    text = header("fx_rates") + "\n2025-08-01,USD,UAH,41.3\n2025-08-02,USD UAH,41.4\n"

    errors = errors_with(tmp_path, fx_rates=text)

    assert where(errors) == [("fx_rates.csv", 3, "*")]
    assert "row has 3 values but the header has 4 columns" in errors[0].message


def test_row_numbers_are_lines_even_with_a_value_on_two_lines(tmp_path: Path) -> None:
    text = header("parties") + '\nx,"Two\nlines",agency,US,\ny,Y,agency,XX,\n'

    errors = errors_with(tmp_path, parties=text)

    assert where(errors) == [("parties.csv", 4, "country")]


def test_unknown_csv_file_names_the_file(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    (tmp_path / "partys.csv").write_text(PARTIES_ROW)

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("partys.csv", 0, "*")]
    assert 'not a pack table; did you mean "parties.csv"?' in errors[0].message
    assert "expected one of: parties.csv, products.csv" in errors[0].message


def test_unknown_yaml_file_at_the_top(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    (tmp_path / "us-rules.yaml").write_text("ruleset_id: x\n")

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("us-rules.yaml", 0, "*")]
    assert "rulesets go in rulesets/" in errors[0].message


def test_same_table_as_csv_and_as_sheet(tmp_path: Path) -> None:
    write_xlsx_pack(tmp_path)
    (tmp_path / "parties.csv").write_text(table_csv("parties"))

    pack = read_pack(tmp_path)

    assert where(pack.errors) == [("deal.xlsx[parties]", 0, "*")]
    assert "parties is both in parties.csv and here" in pack.errors[0].message
    assert pack.parties[0].file == "parties.csv"


def test_workbook_without_a_pack_sheet(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    book = Workbook()
    assert book.active is not None
    book.active.title = "Parties"
    book.create_sheet("Summary")
    book.save(tmp_path / "extra.xlsx")

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("extra.xlsx", 0, "*")]
    assert "no sheet named parties, products, bom," in errors[0].message
    assert 'should sheet "Parties" be "parties"?' in errors[0].message


def test_workbook_that_is_not_one(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    (tmp_path / "deal.xlsx").write_bytes(b"party_id,name\n")

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("deal.xlsx", 0, "*")]
    assert "not a readable Excel workbook" in errors[0].message


def test_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    text = header("parties") + "\n" + PARTIES_ROW + "ua-mod,Minist\u00e8re,state,UA,\n"
    (tmp_path / "parties.csv").write_bytes(text.encode("cp1252"))

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("parties.csv", 3, "*")]
    assert "not UTF-8 text (byte 0xE8" in errors[0].message
    assert 'save it as "CSV UTF-8"' in errors[0].message


def test_empty_file_of_zero_bytes(tmp_path: Path) -> None:
    errors = errors_with(tmp_path, bom="")

    assert where(errors) == [("bom.csv", 1, "*")]
    assert "the file is empty; its first row must be the header: product_id" in \
        errors[0].message


def test_file_without_a_header(tmp_path: Path) -> None:
    errors = errors_with(tmp_path, bom="\n\nsw-q4,FC-7,flight_controller,S,UA,UA,1\n")

    assert where(errors) == [("bom.csv", 1, "*")]
    assert "row 1 is empty; it must be the header" in errors[0].message


def _book_with(tmp_path: Path, rows: Sequence[Sequence[object]]) -> Path:
    write_csv_pack(tmp_path, parties=None)
    book = Workbook()
    assert book.active is not None
    book.active.title = "parties"
    for row in rows:
        book.active.append(list(row))
    book.save(tmp_path / "deal.xlsx")
    return tmp_path


def test_empty_sheet(tmp_path: Path) -> None:
    errors = read_pack(_book_with(tmp_path, [])).errors

    assert where(errors) == [("deal.xlsx[parties]", 1, "*")]


def test_boolean_and_time_cells_are_errors_at_their_cell(tmp_path: Path) -> None:
    columns = header("parties").split(",")
    folder = _book_with(tmp_path, [
        columns,
        ["us-dod", "US DoD", "agency", "US", True],
        ["ua-mod", "MoD", "state", "UA", dt.time(10, 30)],
        ["urif", "Fund", "fund", "US", None],
    ])

    pack = read_pack(folder)

    assert where(pack.errors) == [("deal.xlsx[parties]", 2, "identifier"),
                                  ("deal.xlsx[parties]", 3, "identifier")]
    assert "TRUE/FALSE cell" in pack.errors[0].message
    assert "time cell" in pack.errors[1].message
    assert [p.record.party_id for p in pack.parties] == ["urif"]


def test_sheet_rows_are_sheet_row_numbers(tmp_path: Path) -> None:
    columns = header("parties").split(",")
    folder = _book_with(tmp_path, [columns, [], ["x", "X", "agency", "XX"]])

    assert where(read_pack(folder).errors) == [("deal.xlsx[parties]", 3, "country")]


def test_old_spreadsheet_formats_are_named(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    (tmp_path / "deal.xls").write_bytes(b"\xd0\xcf\x11\xe0")

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("deal.xls", 0, "*")]
    assert "save it as .xlsx" in errors[0].message
