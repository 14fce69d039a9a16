"""A valid pack reads into the records a clerk wrote, the same from CSV and from XLSX."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from tests.pack.pack_samples import ROWS, header, table_csv, where, write_csv_pack, write_xlsx_pack

from dronedeal.pack import read_pack

MASTER = ("parties", "products", "bom", "agreements", "licenses", "orders", "fx_rates")


def test_valid_csv_pack_reads_every_record_without_errors(tmp_path: Path) -> None:
    pack = read_pack(write_csv_pack(tmp_path))

    assert pack.errors == []
    assert [len(getattr(pack, t)) for t in MASTER] == [6, 3, 3, 2, 1, 3, 2]
    assert pack.files == ["parties.csv", "products.csv", "bom.csv", "agreements.yaml",
                          "licenses.csv", "orders.csv", "fx_rates.csv"]
    long_range = pack.products[1]
    assert (long_range.file, long_range.row) == ("products.csv", 3)
    assert long_range.record.unit_price == 4130  # "41.3" USD in cents
    assert long_range.record.nsn == "1550-01-000-0001"
    assert pack.products[0].record.nsn is None
    assert pack.parties[5].record.name == "Boltline, Inc."  # a quoted comma
    assert pack.fx_rates[0].record.rate == Decimal("41.3")
    assert pack.orders[2].record.due_on == dt.date(2025, 12, 1)
    assert pack.agreements[0].record.ceiling == 3_000_000_000_000


def test_same_pack_as_xlsx_with_typed_cells_gives_equal_records(tmp_path: Path) -> None:
    from_csv = read_pack(write_csv_pack(tmp_path / "csv"))
    from_xlsx = read_pack(write_xlsx_pack(tmp_path / "xlsx"))

    assert from_xlsx.errors == []
    for table in MASTER:
        assert [x.record for x in getattr(from_xlsx, table)] == \
               [c.record for c in getattr(from_csv, table)], table
    assert from_xlsx.products[1].file == "deal.xlsx[products]"
    assert [o.row for o in from_xlsx.orders] == [o.row for o in from_csv.orders] == [2, 3, 4]
    assert from_xlsx.parties[5].record.identifier == "12345678"  # a number cell, read as text


def test_header_only_file_is_a_table_without_rows(tmp_path: Path) -> None:
    pack = read_pack(write_csv_pack(tmp_path, bom=header("bom") + "\n"))

    assert pack.errors == []
    assert pack.bom == []
    assert "bom.csv" in pack.files


def test_optional_column_may_be_left_out_of_the_header(tmp_path: Path) -> None:
    text = "party_id,name,kind,country\nus-dod,US DoD,agency,US\n"
    pack = read_pack(write_csv_pack(tmp_path, parties=text, products=None, bom=None,
                                    agreements=None, licenses=None, orders=None))

    assert pack.errors == []
    assert pack.parties[0].record.identifier is None


def test_blank_lines_a_byte_order_mark_and_crlf_are_tolerated(tmp_path: Path) -> None:
    text = table_csv("fx_rates").replace("\n", "\r\n") + "\r\n,,,\r\n"
    write_csv_pack(tmp_path)
    (tmp_path / "fx_rates.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())

    pack = read_pack(tmp_path)

    assert pack.errors == []
    assert len(pack.fx_rates) == len(ROWS["fx_rates"])


def test_documents_subfolders_and_excel_lock_files_are_not_pack_files(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "rulesets").mkdir()
    (tmp_path / "rulesets" / "extra.yaml").write_text("ruleset_id: x\n")
    (tmp_path / "~$deal.xlsx").write_bytes(b"lock")

    assert read_pack(tmp_path).errors == []


def test_event_tables_are_located_not_read(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    (tmp_path / "shipments.csv").write_text(
        "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
        "SN-1,sw-q4,lot-1,o-1,lic-1,2025-10-01\n")

    pack = read_pack(tmp_path)

    assert pack.errors == []
    assert pack.sources["shipments"].file == "shipments.csv"
    assert "shipments.csv" not in pack.files


def test_a_missing_folder_is_one_error(tmp_path: Path) -> None:
    pack = read_pack(tmp_path / "nowhere")

    assert where(pack.errors) == [("nowhere", 0, "*")]
    assert "no such folder" in pack.errors[0].message
