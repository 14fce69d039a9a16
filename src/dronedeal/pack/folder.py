"""Reading a deal-pack folder: find its tables, read the master ones, collect every error.

Only the top level of the folder is looked at, and only `*.csv`, `*.xlsx` and
`*.yaml`/`*.yml` files (README.md, PDFs and the `rulesets/` folder are not ours; hidden
files and Excel's `~$` lock files are skipped). A CSV must be named after a pack table;
a workbook must hold at least one sheet named after one (its other sheets are ignored);
the only top-level YAML file is `agreements.yaml`. A table found twice is an error on
the second place, and the first place is read, so that its rows are still checked.
Master tables are read in dependency order; event tables are only located.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from dronedeal.core.errors import RowError
from dronedeal.core.records import Agreement, BomLine, FxRate, License, Order, Party, Product
from dronedeal.pack.agreements import read_agreements
from dronedeal.pack.cells import closest, suggestion
from dronedeal.pack.parsed import Located, ParsedPack
from dronedeal.pack.rows import TypedRow, iter_typed
from dronedeal.pack.sources import WORKBOOK_ERRORS, TableSource, unreadable_workbook
from dronedeal.pack.tables import AGREEMENTS, TABLES

R = TypeVar("R")

_OLD_FORMATS = {".xls": "Excel 97-2003 workbook", ".xlsm": "macro-enabled workbook",
                ".ods": "OpenDocument spreadsheet"}


def read_pack(folder: Path) -> ParsedPack:
    """Read every master table of a pack folder into located records, with all errors."""
    if not folder.is_dir():
        return ParsedPack(folder, errors=[RowError(folder.name or str(folder), 0, "*",
                                                   "no such folder; give the pack's folder")])
    sources, agreements_path, errors = find_tables(folder)
    refused: dict[str, frozenset[str]] = {}
    files: list[str] = []

    def read(table: str, record_type: type[R]) -> list[Located[R]]:
        source = sources.get(table)
        if source is None:
            return []
        files.append(source.file)
        located, keys = _read_table(source, record_type, errors)
        refused[table] = keys
        return located

    parties = read("parties", Party)
    products = read("products", Product)
    bom = read("bom", BomLine)
    agreements: list[Located[Agreement]] = []
    if agreements_path is not None:
        files.append(agreements_path.name)
        agreements, yaml_errors, refused[AGREEMENTS] = read_agreements(agreements_path)
        errors.extend(yaml_errors)
    licenses = read("licenses", License)
    orders = read("orders", Order)
    fx_rates = read("fx_rates", FxRate)
    errors.sort(key=lambda e: (e.file, e.row))
    return ParsedPack(
        folder=folder, parties=parties, products=products, bom=bom, agreements=agreements,
        licenses=licenses, orders=orders, fx_rates=fx_rates, errors=errors, files=files,
        sources=sources,
        agreements_file=agreements_path.name if agreements_path is not None else None,
        refused=refused)


def _read_table(source: TableSource, record_type: type[R], errors: list[RowError]
                ) -> tuple[list[Located[R]], frozenset[str]]:
    spec = TABLES[source.table]
    assert spec.build is not None, f"{spec.name} is not a master table"
    located: list[Located[R]] = []
    refused: set[tuple[str, ...]] = set()
    for item in iter_typed(source, spec, refused=refused):
        if isinstance(item, TypedRow):
            record = spec.build(item.values)
            assert isinstance(record, record_type)
            located.append(Located(record, source.file, item.row))
        else:
            errors.append(item)
    return located, frozenset("/".join(key) for key in refused)


def find_tables(folder: Path) -> tuple[dict[str, TableSource], Path | None, list[RowError]]:
    """Where each table of the folder is, the agreements file, and misplaced files."""
    sources: dict[str, TableSource] = {}
    errors: list[RowError] = []
    agreements: Path | None = None
    table_files = [f"{name}.csv" for name in TABLES]
    entries = sorted((p for p in folder.iterdir()
                      if p.is_file() and not p.name.startswith((".", "~$"))),
                     key=lambda p: (p.suffix.lower() != ".csv", p.name))

    def add(source: TableSource) -> None:
        first = sources.setdefault(source.table, source)
        if first is not source:
            errors.append(RowError(source.file, 0, "*",
                                   f"{source.table} is both in {first.file} and here; "
                                   "keep only one of them"))

    for path in entries:
        suffix = path.suffix.lower()
        if suffix == ".csv":
            if path.stem in TABLES:
                add(TableSource(path.stem, path))
            elif path.stem == "demand":
                errors.append(RowError(path.name, 0, "*", "demand is the input of `dronedeal "
                                                          "allocate --demand`, not part of a "
                                                          "pack; move it out of the folder"))
            else:
                errors.append(RowError(path.name, 0, "*",
                                       f"not a pack table{suggestion(path.name, table_files)}; "
                                       f"expected one of: {', '.join(table_files)}"))
        elif suffix == ".xlsx":
            sheets = _sheet_names(path)
            if isinstance(sheets, RowError):
                errors.append(sheets)
                continue
            tables = [name for name in sheets if name in TABLES]
            for name in tables:
                add(TableSource(name, path, name))
            if not tables:
                guesses = ((sheet, closest(sheet, list(TABLES))) for sheet in sheets)
                hint = next((f' (should sheet "{sheet}" be "{meant}"?)'
                             for sheet, meant in guesses if meant), "")
                errors.append(RowError(path.name, 0, "*",
                                       f"no sheet named {', '.join(TABLES)}{hint}; name each "
                                       "sheet after the table it holds"))
        elif suffix in (".yaml", ".yml"):
            if path.stem != AGREEMENTS:
                errors.append(RowError(path.name, 0, "*",
                                       "not a pack file; the only YAML file at the top of a "
                                       "pack is agreements.yaml (rulesets go in rulesets/)"))
            elif agreements is not None:
                errors.append(RowError(path.name, 0, "*", f"agreements are both in "
                                                          f"{agreements.name} and here; keep "
                                                          "only one of them"))
            else:
                agreements = path
        elif suffix in _OLD_FORMATS:
            errors.append(RowError(path.name, 0, "*",
                                   f"a {_OLD_FORMATS[suffix]} is not read; save it as .xlsx "
                                   "(Excel Workbook)"))
    return sources, agreements, errors


def _sheet_names(path: Path) -> list[str] | RowError:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True)
    except WORKBOOK_ERRORS as exc:
        return RowError(path.name, 0, "*", unreadable_workbook(exc))
    try:
        return list(book.sheetnames)
    finally:
        book.close()
