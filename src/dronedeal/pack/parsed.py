"""What reading a pack gives: records that remember where they came from, and errors.

A `Located` record keeps its file and row so that every later check (references,
compliance, import conflicts) can point the clerk at the row to fix. For a YAML
document, `lines` maps a key path (`flows[0].buyer_id`) to its own line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from dronedeal.core.errors import RowError
from dronedeal.core.records import Agreement, BomLine, FxRate, License, Order, Party, Product
from dronedeal.pack.sources import TableSource

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Located(Generic[R]):
    """A record and the place it was read from (`file` as the user names it, `row`).

    `defaulted` names the key paths whose value is a provisional default that needs
    other records to settle (see `pack.references.resolve_defaults`).
    """

    record: R
    file: str
    row: int
    lines: Mapping[str, int] = field(default_factory=dict)
    defaulted: frozenset[str] = frozenset()

    def row_of(self, column: str) -> int:
        """The row (or YAML line) of one column or key path of this record."""
        return self.lines.get(column, self.row)


@dataclass(frozen=True, slots=True)
class ParsedPack:
    """A pack folder read and checked row by row, before any cross-reference check.

    Master tables are read into records; event tables are found but not read
    (`sources`): their import streams them with `pack.iter_typed`. `errors` are sorted
    by file, then row; a pack with errors must change nothing.
    """

    folder: Path
    parties: list[Located[Party]] = field(default_factory=list)
    products: list[Located[Product]] = field(default_factory=list)
    bom: list[Located[BomLine]] = field(default_factory=list)
    agreements: list[Located[Agreement]] = field(default_factory=list)
    licenses: list[Located[License]] = field(default_factory=list)
    orders: list[Located[Order]] = field(default_factory=list)
    fx_rates: list[Located[FxRate]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    """The files (and sheets) whose rows were read, as the user names them."""
    sources: dict[str, TableSource] = field(default_factory=dict)
    """Every table found in the folder, master and event, by table name."""
    agreements_file: str | None = None
    refused: dict[str, frozenset[str]] = field(default_factory=dict)
    """Per table, the keys of rows left out for their errors: a reference to one of them
    is not reported again as unknown."""

    @property
    def ok(self) -> bool:
        return not self.errors

    def file_of(self, table: str) -> str:
        """Where a table was read from, or where it would be: for "add it to …" hints."""
        if table == "agreements":
            return self.agreements_file or "agreements.yaml"
        source = self.sources.get(table)
        return source.file if source else f"{table}.csv"
