"""Typed rows: each raw row of a table checked cell by cell against its `TableSpec`.

`iter_typed` is the streaming primitive every table import uses: it yields a
`TypedRow` for each row whose cells are all valid, and one `RowError` per bad cell
otherwise (a row with any error yields no typed row). Amounts are read in the
currency of the same row; when that currency is itself wrong, only the currency is
reported. A repeated key is reported on the later row, naming the first.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

from dronedeal.core.errors import RowError
from dronedeal.pack.cells import cell_parser, parse_money, quoted
from dronedeal.pack.sources import TableSource, iter_table
from dronedeal.pack.tables import TABLES, Column, Kind, TableSpec


class TypedRow(NamedTuple):
    """A valid data row: its row number and column -> typed value (None if empty)."""

    row: int
    values: dict[str, object]


class _Plan(NamedTuple):
    """A spec compiled for speed: the per-row loop does no dispatch on column kinds."""

    cells: tuple[tuple[str, Callable[[str], object], bool], ...]
    amounts: tuple[Column, ...]
    order: dict[str, int]


_FAILED = object()  # a cell that was reported; never leaves convert_row


@functools.cache
def _plan(spec: TableSpec) -> _Plan:
    cells = tuple((c.name, cell_parser(c), c.may_be_empty)
                  for c in spec.columns if c.kind is not Kind.AMOUNT)
    amounts = tuple(c for c in spec.columns if c.kind is Kind.AMOUNT)
    return _Plan(cells, amounts, {c.name: i for i, c in enumerate(spec.columns)})


def convert_row(spec: TableSpec, raw: Mapping[str, str | None]
                ) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """Typed values of one raw row and its (column, message) errors, in column order."""
    return _convert(_plan(spec), spec, raw)


def _convert(plan: _Plan, spec: TableSpec, raw: Mapping[str, str | None]
             ) -> tuple[dict[str, object], list[tuple[str, str]]]:
    values: dict[str, object] = {}
    errors: list[tuple[str, str]] = []
    for name, parse, may_be_empty in plan.cells:
        text = raw.get(name)
        if text is None:
            if may_be_empty:
                values[name] = None
            else:
                values[name] = _FAILED
                errors.append((name, f"{name} is empty; fill it in"))
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            values[name] = _FAILED
            errors.append((name, str(exc)))
    for column in plan.amounts:
        text = raw.get(column.name)
        if text is None:
            values[column.name] = None if column.may_be_empty else _FAILED
            if not column.may_be_empty:
                errors.append((column.name, f"{column.name} is empty; fill it in"))
            continue
        currency = values.get(column.currency_column)
        if currency is _FAILED:
            continue  # the currency is reported; the amount cannot be checked without it
        if not isinstance(currency, str):
            errors.append((column.currency_column,
                           f"{column.currency_column} is empty; {column.name} "
                           f"{quoted(text)} needs its currency"))
            continue
        try:
            values[column.name] = parse_money(text, currency, column.minimum)
        except ValueError as exc:
            errors.append((column.name, str(exc)))
    if errors:
        errors.sort(key=lambda e: plan.order[e[0]])
    elif spec.row_check is not None:
        errors.extend(spec.row_check(values))
    return values, errors


def iter_typed(source: TableSource, spec: TableSpec | None = None, *, unique: bool = True,
               refused: set[tuple[str, ...]] | None = None) -> Iterator[TypedRow | RowError]:
    """Stream the typed rows of `source` with their errors.

    With `unique`, a key seen before is an error on the later row; this keeps one
    small entry per row in memory (a million keys is some 150 MB), so an event import
    that checks keys against the database may turn it off. Given `refused`, the keys
    (as written) of rows that had errors are added to it.
    """
    spec = spec or TABLES[source.table]
    plan = _plan(spec)
    file = source.file
    key_of = _key_reader(spec.key)
    first_row: dict[object, int] = {}
    for item in iter_table(source, spec):
        if isinstance(item, RowError):
            yield item
            continue
        row, raw = item
        values, errors = _convert(plan, spec, raw)
        key = key_of(raw)
        first = row if key is None or not unique else first_row.setdefault(key, row)
        for column, message in errors:
            yield RowError(file, row, column, message)
        if first != row:
            yield RowError(file, row, *_duplicate(spec, raw, first))
        if not errors and first == row:
            yield TypedRow(row, values)
        elif refused is not None and key is not None:
            refused.add(tuple(raw[name] or "" for name in spec.key))


def _key_reader(key: tuple[str, ...]) -> Callable[[Mapping[str, str | None]], object | None]:
    """The key of a raw row as written (None when a key cell is empty), cheap to hash."""
    # Key columns are never optional, so every raw row of a valid header holds them.
    get = operator.itemgetter(*key)
    if len(key) == 1:
        return get

    def composite(raw: Mapping[str, str | None]) -> object | None:
        parts = get(raw)
        return None if None in parts else parts
    return composite


def _duplicate(spec: TableSpec, raw: Mapping[str, str | None], first: int) -> tuple[str, str]:
    """(column, message) for a row whose key was on row `first` already."""
    if len(spec.key) == 1:
        name = spec.key[0]
        return name, (f"duplicate {name} {quoted(raw[name] or '')}: row {first} has it "
                      "already; keep one of the rows or give this one another id")
    named = ", ".join(f"{name} {quoted(raw[name] or '')}" for name in spec.key)
    return "*", (f"duplicate row for {named}: row {first} has them already; keep one of "
                 "the rows")
