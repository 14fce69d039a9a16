"""Reading a deal pack (CSV, XLSX, YAML) into validated records with row-level errors.

The pipeline, each step pure and without a database:

1. `read_pack(folder)` finds the tables, reads every master table and `agreements.yaml`
   row by row, and returns a `ParsedPack`: `Located` records (record, file, row) and
   `RowError`s for everything wrong inside a file (header, cell types, ids, ISO codes,
   vocabularies, dates, amounts, duplicate keys, YAML syntax and structure).
2. `MasterView.overlay(pack)` lays the pack over the stored master data;
   `check_references(view, pack)` reports every id that points nowhere or does not fit,
   and `resolve_defaults` settles a flow's `license_required` from its end user.
3. Event tables (`shipments`, `inspections`, `cases`, `case_deliveries`, `payments`)
   are located by `read_pack` and streamed by their importer with `iter_typed`.

Invariants: nothing here raises on bad input; every problem is a `RowError` naming the
file as the user sees it (`parties.csv`, `deal.xlsx[parties]`), the row (CSV line,
sheet row, YAML line; 0 for the file as a whole) and the column (`*` for the whole
row). The package imports `dronedeal.core` and nothing else of ours.
"""

from __future__ import annotations

from dronedeal.pack.agreements import AgreementsRead, read_agreements
from dronedeal.pack.folder import find_tables, read_pack
from dronedeal.pack.parsed import Located, ParsedPack
from dronedeal.pack.references import MasterView, check_references, resolve_defaults
from dronedeal.pack.rows import TypedRow, convert_row, iter_typed
from dronedeal.pack.sources import RawRow, TableSource, iter_table
from dronedeal.pack.tables import (
    DEMAND,
    EVENT_TABLES,
    IMPORT_ORDER,
    MASTER_TABLES,
    TABLES,
    Column,
    Kind,
    TableSpec,
)

__all__ = [
    "DEMAND",
    "EVENT_TABLES",
    "IMPORT_ORDER",
    "MASTER_TABLES",
    "TABLES",
    "AgreementsRead",
    "Column",
    "Kind",
    "Located",
    "MasterView",
    "ParsedPack",
    "RawRow",
    "TableSource",
    "TableSpec",
    "TypedRow",
    "check_references",
    "convert_row",
    "find_tables",
    "iter_table",
    "iter_typed",
    "read_agreements",
    "read_pack",
    "resolve_defaults",
]
