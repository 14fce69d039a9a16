"""Streaming the raw rows of one table from a CSV file or an XLSX sheet.

`iter_table` yields `RawRow`s (row number, column -> stripped text or None) and
`RowError`s, one row at a time, so a million-row file never sits in memory. It owns
everything about the file itself: UTF-8, the header (exact columns in SPEC order,
optional ones may be left out, misspellings named with the closest column), rows
wider or narrower than the header, and spreadsheet cells that hold no pack value.
Cell values are checked one layer up (`pack.rows`).

Row numbers are what the user sees: in a CSV the line on which the row starts (the
header is row 1), in a sheet the sheet's row number. A header error stops the table:
its rows are not read, since their cells cannot be placed.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from dronedeal.core.errors import RowError
from dronedeal.pack.cells import closest, quoted, spreadsheet_text
from dronedeal.pack.tables import TABLES, TableSpec

MAX_ROWS = 20_000_000
"""Bound on the rows of one table; a file beyond it is refused, not read forever."""

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class TableSource:
    """Where a table's rows are: a CSV file, or a sheet of a workbook."""

    table: str
    path: Path
    sheet: str | None = None

    @property
    def file(self) -> str:
        """The file as the user names it: `parties.csv` or `deal.xlsx[parties]`."""
        return f"{self.path.name}[{self.sheet}]" if self.sheet else self.path.name


class RawRow(NamedTuple):
    """A data row: its row number and each header column's stripped text (None if empty)."""

    row: int
    values: dict[str, str | None]


def iter_table(source: TableSource, spec: TableSpec | None = None
               ) -> Iterator[RawRow | RowError]:
    """Stream the rows of `source`, checked against `spec` (default: its table's spec)."""
    spec = spec or TABLES[source.table]
    if source.sheet is None:
        yield from _iter_csv(source, spec)
    else:
        yield from _iter_sheet(source, spec)


# -- header -----------------------------------------------------------------------------

def check_header(cells: list[str], spec: TableSpec, file: str) -> list[RowError]:
    """Errors of a header row (row 1); none when it holds exactly the spec's columns."""

    def error(column: str, message: str) -> RowError:
        return RowError(file, 1, column, message)

    names = _trim(cells)
    expected = f"the header must be: {spec.header}"
    if not names:
        return [error("*", f"row 1 is empty; it must be the header: {spec.header}")]
    if len(names) == 1 and ";" in names[0]:
        return [error("*", "the values are separated by ';'; save the file as "
                           "\"CSV UTF-8 (comma delimited)\" so that commas separate them")]
    errors: list[RowError] = []
    known = [c.name for c in spec.columns]
    seen: dict[str, int] = {}
    unknown: list[str] = []
    for position, name in enumerate(names, start=1):
        if not name:
            errors.append(error("*", f"header cell {position} is empty; name the column "
                                     "or delete it"))
        elif name in seen:
            errors.append(error(name, f"column {quoted(name)} appears twice in the header "
                                      f"(cells {seen[name]} and {position}); delete one"))
        else:
            seen[name] = position
            if name not in known:
                unknown.append(name)
    absent = [c for c in known if c not in seen]
    required_absent = {c.name for c in spec.columns if not c.optional and c.name not in seen}
    for name in unknown:
        meant = closest(name, absent)
        if meant is not None:
            absent.remove(meant)
            required_absent.discard(meant)
            errors.append(error(name, f"column {quoted(name)} is not a column of {spec.name}; "
                                      f'did you mean "{meant}"?'))
        else:
            errors.append(error(name, f"column {quoted(name)} is not a column of {spec.name}; "
                                      f"delete it ({expected})"))
    for name in known:
        if name in required_absent:
            errors.append(error(name, f"column {quoted(name)} is missing; {expected}"))
    if not errors:
        in_order = [c for c in known if c in seen]
        for have, want in zip(names, in_order, strict=True):
            if have != want:
                errors.append(error(have, f"column {quoted(have)} is out of order; {expected}"))
                break
    return errors


def _trim(cells: list[str]) -> list[str]:
    """Header names stripped, trailing empty cells dropped (spreadsheets leave them)."""
    names = [c.strip() for c in cells]
    while names and not names[-1]:
        names.pop()
    return names


def _empty_file(file: str, spec: TableSpec) -> RowError:
    return RowError(file, 1, "*", f"the file is empty; its first row must be the header: "
                                  f"{spec.header}")


_Record = tuple[int, list[str | None]]


def _rows(file: str, names: list[str], records: Iterable[_Record | RowError], *, pad: bool
          ) -> Iterator[RawRow | RowError]:
    """Map data records onto the header; `pad` fills short rows (spreadsheets store no
    trailing empty cells), otherwise a short row is an error (a missing comma). Errors
    found while reading a record pass through."""
    width = len(names)
    for count, record in enumerate(records, start=1):
        if isinstance(record, RowError):
            yield record
            continue
        row, cells = record
        if count > MAX_ROWS:
            yield RowError(file, row, "*", f"the table has more than {MAX_ROWS} rows; "
                                           "split it into several packs")
            return
        if len(cells) == width and cells[0] is not None:  # the common case, checked cheaply
            yield RawRow(row, dict(zip(names, cells, strict=True)))
            continue
        if not any(cells):
            continue  # blank rows are layout, not data
        if len(cells) > width and any(cells[width:]):
            yield RowError(file, row, "*", f"row has {_last_filled(cells)} values but the "
                                           f"header has {width} columns; remove the extra "
                                           "values or quote a value that contains a comma")
            continue
        if len(cells) < width and not pad:
            yield RowError(file, row, "*", f"row has {len(cells)} values but the header has "
                                           f"{width} columns; add the missing commas")
            continue
        values = dict(zip(names, cells, strict=False))
        for name in names[len(cells):]:
            values[name] = None
        yield RawRow(row, values)


def _last_filled(cells: list[str | None]) -> int:
    return max(i for i, c in enumerate(cells, start=1) if c)


# -- CSV --------------------------------------------------------------------------------

class _CsvProblem(Exception):
    def __init__(self, row: int, detail: str) -> None:
        super().__init__(detail)
        self.row, self.detail = row, detail


def _first_bad_line(path: Path) -> tuple[int, int]:
    """(line, byte) of the first byte that is not UTF-8. A newline byte never occurs
    inside a multi-byte UTF-8 sequence, so decoding line by line finds it exactly."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = raw[len(_BOM):] if number == 1 and raw.startswith(_BOM) else raw
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                return number, line[exc.start]
    raise AssertionError(f"{path} decodes as UTF-8 line by line")


def _iter_csv(source: TableSource, spec: TableSpec) -> Iterator[RawRow | RowError]:
    file = source.file
    try:
        # utf-8-sig drops the byte-order mark Excel writes in "CSV UTF-8"
        handle = source.path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        yield RowError(file, 0, "*", f"cannot open the file: {exc.strerror}")
        return
    with handle:
        reader = csv.reader(handle, strict=True)

        def records() -> Iterator[_Record]:
            # The row number is the line the record starts on: quoted values may span lines.
            while True:
                start = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise _CsvProblem(start, str(exc)) from None
                yield start, [c.strip() or None for c in cells]

        rows = records()
        try:
            first = next(rows, None)
            if first is None:
                yield _empty_file(file, spec)
                return
            header = [c or "" for c in first[1]]
            errors = check_header(header, spec, file)
            if errors:
                yield from errors
                return
            yield from _rows(file, _trim(header), rows, pad=False)
        except _CsvProblem as problem:
            yield RowError(file, problem.row, "*", f"the row cannot be read as CSV "
                                                   f"({problem.detail}); check its quotes")
        except UnicodeDecodeError:
            # Text is decoded in blocks: rows of the block holding the bad byte are not
            # checked, but the file is refused anyway and checked whole once re-saved.
            line, byte = _first_bad_line(source.path)
            yield RowError(file, line, "*",
                           f"the file is not UTF-8 text (byte 0x{byte:02X} on this line); "
                           "save it as \"CSV UTF-8\" and import it again")


# -- XLSX -------------------------------------------------------------------------------

def _iter_sheet(source: TableSource, spec: TableSpec) -> Iterator[RawRow | RowError]:
    import openpyxl  # imported here: CSV-only packs never pay for it

    file = source.file
    assert source.sheet is not None
    try:
        book = openpyxl.load_workbook(source.path, read_only=True, data_only=True)
    except WORKBOOK_ERRORS as exc:
        yield RowError(source.path.name, 0, "*", unreadable_workbook(exc))
        return
    try:
        sheet = book[source.sheet]
        if hasattr(sheet, "reset_dimensions"):
            sheet.reset_dimensions()  # other tools write wrong dimensions; read every cell
        cells = sheet.iter_rows(values_only=True)
        header = next(cells, None)
        if header is None:
            yield _empty_file(file, spec)
            return
        header_text = ["" if v is None else str(v) for v in header]
        errors = check_header(header_text, spec, file)
        if errors:
            yield from errors
            return
        names = _trim(header_text)

        def records() -> Iterator[_Record | RowError]:
            for row, values in enumerate(cells, start=2):
                texts: list[str | None] = []
                bad: list[RowError] = []
                for position, value in enumerate(values):
                    try:
                        texts.append(spreadsheet_text(value))
                    except ValueError as exc:
                        column = names[position] if position < len(names) else "*"
                        bad.append(RowError(file, row, column, f"the cell {exc}"))
                        texts.append(None)
                if bad:
                    yield from bad  # the row is skipped until these cells are fixed
                else:
                    yield row, texts

        yield from _rows(file, names, records(), pad=True)
    except WORKBOOK_ERRORS as exc:
        yield RowError(file, 0, "*", f"the sheet cannot be read ({type(exc).__name__}: {exc}); "
                                     "save the workbook again as .xlsx")
    finally:
        book.close()


WORKBOOK_ERRORS = (OSError, EOFError, KeyError, ValueError, TypeError, SyntaxError,
                    zipfile.BadZipFile)
"""What openpyxl raises on a corrupt or mislabelled file (XML parse errors are SyntaxErrors)."""


def unreadable_workbook(exc: Exception) -> str:
    return (f"not a readable Excel workbook ({type(exc).__name__}); save it again "
            "as .xlsx (Excel Workbook)")
