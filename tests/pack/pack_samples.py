"""A small valid deal pack, written as CSV files or as one XLSX workbook, for pack tests.

Rows hold the values a spreadsheet would hold (ints, floats, dates, text); the CSV form
writes each as the text a clerk would type (`repr` for floats, ISO for dates).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dronedeal.core.errors import RowError
from dronedeal.pack import TABLES

Cell = str | int | float | dt.date | None

ROWS: dict[str, list[tuple[Cell, ...]]] = {
    "parties": [
        ("us-dod", "US Department of Defense", "agency", "US", None),
        ("ua-mod", "Ministry of Defence of Ukraine", "state", "UA", None),
        ("dk-mod", "Danish Ministry of Defence", "state", "DK", None),
        ("urif", "US-Ukraine Reconstruction Investment Fund", "fund", "US", None),
        ("skyworks", "Skyworks LLC", "manufacturer", "UA", "UA-40000001"),
        ("boltline", "Boltline, Inc.", "manufacturer", "US", 12345678),
    ],
    "products": [
        ("sw-q4", "skyworks", "Q4 quadcopter", "uas.small", "1250.00", "USD", 400, None),
        ("sw-lr", "skyworks", "LR-7 long range", "uas.long_range", 41.3, "USD", 0,
         "1550-01-000-0001"),
        ("bl-155", "boltline", "155 mm shell", "munition", 3000, "USD", 1000, None),
    ],
    "bom": [
        ("sw-q4", "FC-7", "flight_controller", "Skyworks LLC", "UA", "UA", 1),
        ("sw-q4", "CAM-2", "camera", "Optika TOV", "UA", "UA", 2),
        ("sw-lr", "GNSS-1", "gnss", "u-blox AG", "CH", "CH", 1),
    ],
    "licenses": [
        ("lic-1", "UA", "skyworks", "us-dod", "sw-q4", 1000, 1250000.0, "USD",
         dt.date(2025, 8, 1), dt.date(2026, 7, 31)),
    ],
    "orders": [
        ("o-1", "ua-us-2025", "drones-to-us", "us-dod", "skyworks", "sw-q4", 100, "1250.00",
         "USD", dt.date(2025, 10, 1)),
        ("o-2", "ua-us-2025", "weapons-to-ua", "ua-mod", "boltline", "bl-155", 50, 3000, "USD",
         dt.date(2025, 11, 15)),
        ("o-3", "dk-ua-2025", "drones-to-ua", "dk-mod", "skyworks", "sw-lr", 10, 41.3, "USD",
         dt.date(2025, 12, 1)),
    ],
    "fx_rates": [
        (dt.date(2025, 8, 1), "USD", "UAH", 41.3),
        (dt.date(2025, 8, 1), "EUR", "USD", 1.17),
    ],
}

AGREEMENTS_YAML = """\
- agreement_id: ua-us-2025
  title: Ukraine–United States drone deal
  currency: USD            # settlement currency
  ceiling: "30000000000"
  signed_on: 2025-08-01
  ends_on: 2028-12-31
  flows:                   # one per direction of trade
    - flow_id: drones-to-us
      buyer_id: us-dod         # who pays
      end_user_id: us-dod      # who receives (default: the buyer)
      seller_country: UA
      license_required: true
      categories: ["uas.*", "cuas", "training", "tech_transfer"]
      rulesets: [us-uas-supply-chain]
    - flow_id: weapons-to-ua
      buyer_id: ua-mod
      seller_country: US
      license_required: false
      categories: ["*"]
      rulesets: []
  fund:
    party_id: urif
    contributions:
      - {flow_id: drones-to-us, payer_id: us-dod, share: "0.05"}
  reciprocity:
    numerator_flow: weapons-to-ua
    denominator_flow: drones-to-us
    min_ratio: "0.8"
- agreement_id: dk-ua-2025
  title: Danish model
  currency: USD
  ceiling: 500000000.00
  signed_on: 2025-09-01
  ends_on: 2026-12-31
  flows:
    - flow_id: drones-to-ua
      buyer_id: dk-mod
      end_user_id: ua-mod
      seller_country: UA
      categories: ["uas.*"]
"""


def header(table: str) -> str:
    return ",".join(c.name for c in TABLES[table].columns)


def csv_text(value: Cell) -> str:
    """What a clerk types for a spreadsheet value."""
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return f'"{text}"' if "," in text else text


def table_csv(table: str, rows: list[tuple[Cell, ...]] | None = None) -> str:
    body = ROWS[table] if rows is None else rows
    return "\n".join([header(table), *(",".join(map(csv_text, r)) for r in body)]) + "\n"


def write_csv_pack(folder: Path, **replace: str | None) -> Path:
    """The valid pack as CSV files; `replace` gives a table's whole text (None: leave it out)."""
    folder.mkdir(parents=True, exist_ok=True)
    texts: dict[str, str | None] = {t: table_csv(t) for t in ROWS}
    texts["agreements"] = AGREEMENTS_YAML
    texts.update(replace)
    for table, text in texts.items():
        if text is None:
            continue
        name = "agreements.yaml" if table == "agreements" else f"{table}.csv"
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def write_xlsx_pack(folder: Path, workbook: str = "deal.xlsx") -> Path:
    """The valid pack as one workbook with typed cells (and agreements.yaml beside it)."""
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    assert book.active is not None
    book.remove(book.active)
    for table, rows in ROWS.items():
        sheet = book.create_sheet(table)
        sheet.append([c.name for c in TABLES[table].columns])
        for row in rows:
            sheet.append(list(row))
    book.save(folder / workbook)
    (folder / "agreements.yaml").write_text(AGREEMENTS_YAML, encoding="utf-8")
    return folder


def where(errors: list[RowError]) -> list[tuple[str, int, str]]:
    """(file, row, column) of each error: what the tests pin exactly."""
    return [(e.file, e.row, e.column) for e in errors]


def with_cell(table: str, index: int, column: str, value: Cell) -> str:
    """The table's CSV text with one cell of data row `index` (0-based) replaced."""
    position = [c.name for c in TABLES[table].columns].index(column)
    rows = [list(r) for r in ROWS[table]]
    rows[index][position] = value
    return table_csv(table, [tuple(r) for r in rows])
