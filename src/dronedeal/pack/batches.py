"""Event tables in batches: a column-wise fast path for CSV, the generic path for sheets.

`iter_batches(source, spec)` yields `Batch`es of at most `size` rows: the row numbers
and typed values (a tuple in the spec's column order) of the valid rows, and a
`RowError` for every bad cell or row, exactly as `iter_typed` reports them (same file,
row, column and sentence). Only one batch of raw text is held at a time, so a million-row
file never sits in memory.

Why a second path: `iter_typed` builds a dict per row and parses cell by cell, some
170k rows/s. Shipments and inspections hold only ids, choices, dates and short text,
so a whole column of a batch is checked at once: ids by one regular-expression match
over the column joined by newlines (C speed), dates and choices by parsing each
distinct value once. Only when a column fails as a whole is it checked cell by cell,
with the generic parsers, to name each bad cell. Tables with other kinds of column
(counts, amounts, currencies) are small and go row by row through `convert_row`.
A sheet is read by `iter_typed` (openpyxl dominates its cost anyway).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Final

from dronedeal.core.errors import RowError
from dronedeal.pack.cells import MAX_TEXT, cell_parser
from dronedeal.pack.rows import TypedRow, convert_row, iter_typed
from dronedeal.pack.sources import (
    MAX_ROWS,
    TableSource,
    _empty_file,
    _first_bad_line,
    _trim,
    check_header,
)
from dronedeal.pack.tables import Kind, TableSpec

#: rows per batch: large enough to amortise a query and a log append, small in memory
BATCH_ROWS: Final = 20_000

_FAST_KINDS = frozenset({Kind.ID, Kind.DATE, Kind.CHOICE, Kind.TEXT})
_IDS = re.compile(r"(?:[A-Za-z0-9._:-]{1,64}\n)*")
_IDS_OR_EMPTY = re.compile(r"(?:[A-Za-z0-9._:-]{0,64}\n)*")
#: whitespace (other than the joining newline) at either end of a cell of a joined column
_EDGE_SPACE = re.compile(r"^[^\S\n]|[^\S\n]$", re.MULTILINE)


@dataclass(slots=True)
class Batch:
    """Valid rows (row number, typed values in column order) and the errors of a batch."""

    rows: list[int] = field(default_factory=list)
    values: list[tuple[object, ...]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def iter_batches(source: TableSource, spec: TableSpec, *, size: int = BATCH_ROWS
                 ) -> Iterator[Batch]:
    """Stream `source` as batches of typed rows with their errors (see module docstring)."""
    assert 0 < size <= 1_000_000, "a batch is bounded"
    if source.sheet is not None:
        yield from _generic_batches(iter_typed(source, spec, unique=False), spec, size)
    else:
        yield from _csv_batches(source, spec, size)


def _generic_batches(items: Iterator[TypedRow | RowError], spec: TableSpec, size: int
                     ) -> Iterator[Batch]:
    names = [c.name for c in spec.columns]
    batch = Batch()
    for item in items:
        if isinstance(item, RowError):
            batch.errors.append(item)
            continue
        batch.rows.append(item.row)
        batch.values.append(tuple(item.values.get(name) for name in names))
        if len(batch.rows) >= size:
            yield batch
            batch = Batch()
    if batch.rows or batch.errors:
        yield batch


class _CsvProblem(Exception):
    def __init__(self, row: int, detail: str) -> None:
        super().__init__(detail)
        self.row, self.detail = row, detail


def _csv_batches(source: TableSource, spec: TableSpec, size: int) -> Iterator[Batch]:
    file = source.file
    try:
        handle = source.path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        yield Batch(errors=[RowError(file, 0, "*", f"cannot open the file: {exc.strerror}")])
        return
    with handle:
        reader = csv.reader(handle, strict=True)
        try:
            try:
                header = next(reader, None)
            except csv.Error as exc:
                raise _CsvProblem(1, str(exc)) from None
            if header is None:
                yield Batch(errors=[_empty_file(file, spec)])
                return
            errors = check_header([c.strip() for c in header], spec, file)
            if errors:
                yield Batch(errors=errors)
                return
            names = _trim([c.strip() for c in header])
            checker = _BatchChecker(spec, names, file)
            count = 0
            previous_end = reader.line_num
            while True:
                try:
                    # a whole batch in C; rows are told apart by line numbers afterwards
                    records = list(islice(reader, size))
                except csv.Error as exc:
                    raise _CsvProblem(reader.line_num, str(exc)) from None
                if not records:
                    break
                end = reader.line_num
                numbers = _line_numbers(records, previous_end, end)
                previous_end = end
                count += len(records)
                if count > MAX_ROWS:
                    yield Batch(errors=[RowError(file, end, "*",
                                                 f"the table has more than {MAX_ROWS} rows; "
                                                 "split it into several packs")])
                    return
                yield checker.check(numbers, records)
        except _CsvProblem as problem:
            yield Batch(errors=[RowError(file, problem.row, "*",
                                         f"the row cannot be read as CSV ({problem.detail}); "
                                         "check its quotes")])
        except UnicodeDecodeError:
            line, byte = _first_bad_line(source.path)
            yield Batch(errors=[RowError(
                file, line, "*", f"the file is not UTF-8 text (byte 0x{byte:02X} on this "
                "line); save it as \"CSV UTF-8\" and import it again")])


def _line_numbers(records: list[list[str]], previous_end: int, end: int) -> Sequence[int]:
    """The line each record starts on: consecutive lines, unless a quoted value spans
    lines (then each record's newlines are counted)."""
    if end - previous_end == len(records):
        return range(previous_end + 1, end + 1)
    numbers = []
    line = previous_end + 1
    for cells in records:
        numbers.append(line)
        line += 1 + sum(cell.count("\n") for cell in cells)
    return numbers


class _BatchChecker:
    """A spec compiled against one header: checks a batch of CSV records."""

    def __init__(self, spec: TableSpec, names: list[str], file: str) -> None:
        self.spec = spec
        self.file = file
        self.names = names
        self.width = len(names)
        position = {name: i for i, name in enumerate(names)}
        #: per spec column: its index in the header, None when the header leaves it out
        self.positions = [position.get(c.name) for c in spec.columns]
        self.fast = all(c.kind in _FAST_KINDS for c in spec.columns)
        self.parsers: list[Callable[[str], object] | None] = [
            cell_parser(c) if c.kind is not Kind.AMOUNT else None for c in spec.columns]

    def check(self, numbers: Sequence[int], records: list[list[str]]) -> Batch:
        batch = Batch()
        width = self.width
        if self.fast:
            # the transposition checks that every record has the same length, in C
            try:
                transposed = list(zip(*records, strict=True))
            except ValueError:
                transposed = []
            if len(transposed) == width:
                self._by_columns(numbers, records, batch, transposed)
                return batch
        elif set(map(len, records)) == {width}:
            self._row_by_row(list(zip(numbers, records, strict=True)), batch)
            return batch
        shaped: list[tuple[int, list[str]]] = []
        for row, cells in zip(numbers, records, strict=True):
            if len(cells) == width:
                shaped.append((row, cells))
                continue
            if not any(c.strip() for c in cells):
                continue  # blank rows are layout, not data
            if len(cells) > width:
                if not any(c.strip() for c in cells[width:]):
                    shaped.append((row, cells[:width]))
                    continue
                last = max(i for i, c in enumerate(cells, start=1) if c.strip())
                batch.errors.append(RowError(
                    self.file, row, "*", f"row has {last} values but the header has {width} "
                    "columns; remove the extra values or quote a value that contains a comma"))
            else:
                batch.errors.append(RowError(
                    self.file, row, "*", f"row has {len(cells)} values but the header has "
                    f"{width} columns; add the missing commas"))
        if not self.fast:
            self._row_by_row(shaped, batch)
        else:
            self._by_columns([row for row, _ in shaped], [cells for _, cells in shaped], batch)
        batch.errors.sort(key=lambda e: e.row)
        return batch

    def _row_by_row(self, shaped: list[tuple[int, list[str]]], batch: Batch) -> None:
        names = [c.name for c in self.spec.columns]
        for row, cells in shaped:
            if not any(c.strip() for c in cells):
                continue
            raw = {name: (cell.strip() or None) for name, cell in zip(self.names, cells,
                                                                       strict=True)}
            values, errors = convert_row(self.spec, raw)
            if errors:
                batch.errors.extend(RowError(self.file, row, column, message)
                                    for column, message in errors)
                continue
            batch.rows.append(row)
            batch.values.append(tuple(values.get(name) for name in names))

    def _by_columns(self, numbers: Sequence[int], records: list[list[str]],
                    batch: Batch, transposed: list[tuple[str, ...]] | None = None) -> None:
        """Check a batch of records of the header's width column by column;
        `transposed`: the records as one tuple per header column, when already made."""
        # blank rows (every cell empty or spaces) are layout, not data; a blank row has a
        # blank first cell, so a first column without one (the usual case, seen in C)
        # spares the row-by-row search for them
        if ((transposed is None or not all(map(str.strip, transposed[0])))
                and not all(any(map(str.strip, cells)) for cells in records)):
            kept = [(row, cells) for row, cells in zip(numbers, records, strict=True)
                    if any(map(str.strip, cells))]
            numbers, records = [row for row, _ in kept], [cells for _, cells in kept]
            transposed = None
        if not records:
            return
        bad: dict[int, list[tuple[int, str, str]]] = {}  # position -> (column order, name, msg)
        columns: list[Sequence[object]] = []
        if transposed is None:
            transposed = list(zip(*records, strict=True))  # one tuple per header column, in C
        for order, index in enumerate(self.positions):
            if index is None:
                columns.append([None] * len(records))
                continue
            texts: Sequence[str] = transposed[index]
            parsed = self._column(order, texts)
            if parsed is None:
                parsed = self._cells(order, texts, bad)
            columns.append(parsed)
        if not bad:
            batch.rows.extend(numbers)
            batch.values.extend(zip(*columns, strict=True))
            return
        for position, values in enumerate(zip(*columns, strict=True)):
            problems = bad.get(position)
            if problems is None:
                batch.rows.append(numbers[position])
                batch.values.append(values)
                continue
            row = numbers[position]
            batch.errors.extend(RowError(self.file, row, name, message)
                                for _, name, message in sorted(problems))

    def _column(self, order: int, texts: Sequence[str]) -> Sequence[object] | None:
        """The whole column parsed when every cell is valid as written, else None."""
        column = self.spec.columns[order]
        kind, may_be_empty = column.kind, column.may_be_empty
        if kind is Kind.ID:
            pattern = _IDS_OR_EMPTY if may_be_empty else _IDS
            joined = "\n".join(texts) + "\n"
            if joined.count("\n") != len(texts) or not pattern.fullmatch(joined):
                return None
            if may_be_empty and "\n\n" in "\n" + joined:
                return [t or None for t in texts]
            return texts
        if kind is Kind.TEXT:
            joined = "\n".join(texts)
            if (max(map(len, texts)) > MAX_TEXT or _EDGE_SPACE.search(joined)
                    or joined.count("\n") != len(texts) - 1):
                return None
            if not may_be_empty and not all(texts):
                return None
            return [t or None for t in texts]
        # dates and choices: each distinct value parsed once, then mapped at C speed
        parse = self.parsers[order]
        assert parse is not None
        values: dict[str, object] = {}
        for text in set(texts):
            if not text or text != text.strip():
                return None
            try:
                values[text] = parse(text)
            except ValueError:
                return None
        return list(map(values.__getitem__, texts))

    def _cells(self, order: int, texts: Sequence[str],
               bad: dict[int, list[tuple[int, str, str]]]) -> list[object]:
        """Parse a column cell by cell (each distinct text once), noting every bad cell."""
        column = self.spec.columns[order]
        parse = self.parsers[order]
        assert parse is not None
        known: dict[str, object] = {}
        failed: dict[str, str] = {}
        out: list[object] = []
        for position, raw in enumerate(texts):
            value = known.get(raw, _MISSING)
            if value is _MISSING:
                problem = failed.get(raw)
                if problem is None:
                    text = raw.strip()
                    if not text:
                        if column.may_be_empty:
                            known[raw] = None
                            out.append(None)
                            continue
                        problem = f"{column.name} is empty; fill it in"
                    else:
                        try:
                            value = parse(text)
                        except ValueError as exc:
                            problem = str(exc)
                        else:
                            known[raw] = value
                            out.append(value)
                            continue
                    failed[raw] = problem
                bad.setdefault(position, []).append((order, column.name, problem))
                out.append(None)
                continue
            out.append(value)
        return out


_MISSING: Final = object()
