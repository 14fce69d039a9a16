"""Writing deal-pack files: the SPEC §4 column orders and a streaming CSV writer.

Every table is written row by row from an iterable, so that event tables of a million
rows (shipments, inspections) never sit in memory. Cells are text already formatted
for the pack (amounts with the currency's digits, ISO dates, plain decimal rates);
the writer only checks that each row has as many cells as the header.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

#: SPEC §4: every pack table's columns, in the order the header must list them.
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "parties": ("party_id", "name", "kind", "country", "identifier"),
    "products": ("product_id", "supplier_id", "name", "category", "unit_price", "currency",
                 "monthly_capacity", "nsn"),
    "bom": ("product_id", "part_number", "component_category", "manufacturer",
            "manufacturer_country", "origin_country", "quantity"),
    "orders": ("order_id", "agreement_id", "flow_id", "buyer_id", "supplier_id", "product_id",
               "quantity", "unit_price", "currency", "due_on"),
    "licenses": ("license_id", "authority_country", "exporter_id", "end_user_id", "product_id",
                 "max_quantity", "max_value", "currency", "valid_from", "valid_to"),
    "shipments": ("serial", "product_id", "lot_id", "order_id", "license_id", "shipped_on"),
    "inspections": ("serial", "product_id", "result", "reason", "inspected_on"),
    "cases": ("case_id", "line", "agreement_id", "flow_id", "seller_id", "buyer_id",
              "description", "category", "quantity", "unit_price", "currency"),
    "case_deliveries": ("delivery_id", "case_id", "line", "quantity", "delivered_on"),
    "payments": ("payment_id", "agreement_id", "payer_id", "payee_id", "amount", "currency",
                 "paid_on", "reference"),
    "fx_rates": ("date", "base", "quote", "rate"),
    "demand": ("demand_id", "flow_id", "category", "quantity", "due_on", "max_unit_price",
               "currency"),
}

#: SPEC §4 dependency order; the importer reads the same order, and so do we when writing.
PACK_TABLES = ("parties", "products", "bom", "orders", "licenses", "fx_rates", "cases",
               "shipments", "inspections", "case_deliveries", "payments")

AGREEMENTS_FILE = "agreements.yaml"


def document_row(table: str, document: Mapping[str, Any]) -> tuple[str, ...]:
    """A record's `document()` as the cells of `table`, in header order; None is empty."""
    return tuple(_cell(document[column]) for column in TABLE_COLUMNS[table])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    assert not isinstance(value, float), "pack cells are never floats"
    return str(value)


def write_table(path: Path, table: str, rows: Iterable[Sequence[str]]) -> int:
    """Stream `rows` of `table` to a UTF-8 CSV at `path` under its §4 header; the row count."""
    columns = TABLE_COLUMNS[table]
    width = len(columns)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            assert len(row) == width, f"{table} row {count + 2} has {len(row)} cells, not {width}"
            writer.writerow(row)
            count += 1
    return count


def write_agreements(path: Path, agreements: Sequence[Mapping[str, Any]], *,
                     header: str) -> int:
    """Write `agreements.yaml` (a list of §4 agreements) under a comment `header`."""
    for agreement in agreements:
        assert isinstance(agreement["signed_on"], dt.date), "dates stay YAML dates"
    text = yaml.safe_dump(list(agreements), sort_keys=False, allow_unicode=True,
                          default_flow_style=None, width=100)
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    path.write_text(comment + text, encoding="utf-8")
    return len(agreements)
