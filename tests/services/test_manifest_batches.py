"""The manifests' column-wise reader (`pack.batches`) agrees with the generic row reader.

The event import reads shipments and inspections through `iter_batches`, which checks
a batch column by column and only searches row by row for blank or ragged rows when the
columns show there may be some; whatever the path, it must report the same rows, values
and errors (file, row, column, sentence) as `iter_typed`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dronedeal.core.errors import RowError
from dronedeal.pack.batches import iter_batches
from dronedeal.pack.rows import TypedRow, iter_typed
from dronedeal.pack.sources import TableSource
from dronedeal.pack.tables import TABLES

HEADER = "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
GOOD = "VZ7-2025-{n:06d},prd-0001,LOT-A,ord-0001,lic-0001,2025-10-01\n"


def read_both(tmp_path: Path, body: str, size: int
              ) -> tuple[tuple[list[int], list[tuple[object, ...]], list[RowError]],
                         tuple[list[int], list[tuple[object, ...]], list[RowError]]]:
    """(rows, values, errors) of `body` as shipments.csv, by batches of `size` and by the
    generic reader."""
    path = tmp_path / "shipments.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    spec = TABLES["shipments"]
    source = TableSource("shipments", path)
    rows: list[int] = []
    values: list[tuple[object, ...]] = []
    errors: list[RowError] = []
    for batch in iter_batches(source, spec, size=size):
        rows.extend(batch.rows)
        values.extend(batch.values)
        errors.extend(batch.errors)
    names = [column.name for column in spec.columns]
    generic_rows: list[int] = []
    generic_values: list[tuple[object, ...]] = []
    generic_errors: list[RowError] = []
    for item in iter_typed(source, spec, unique=False):
        if isinstance(item, TypedRow):
            generic_rows.append(item.row)
            generic_values.append(tuple(item.values.get(name) for name in names))
        else:
            generic_errors.append(item)
    return (rows, values, errors), (generic_rows, generic_values, generic_errors)


@pytest.mark.parametrize("size", [3, 1000])
def test_blank_rows_are_skipped_and_a_row_without_its_first_cell_is_refused(
    tmp_path: Path, size: int
) -> None:
    body = (GOOD.format(n=1) + ",,,,,\n" + GOOD.format(n=2) + "\n"
            + ",prd-0001,LOT-A,ord-0001,lic-0001,2025-10-01\n" + GOOD.format(n=3)
            + "  ,,,,,\n" + GOOD.format(n=4))
    batched, generic = read_both(tmp_path, body, size)
    assert batched == generic
    rows, _, errors = batched
    assert rows == [2, 4, 7, 9]
    # row 8 holds only spaces: blank, like rows 3 and 5
    assert [(e.row, e.column) for e in errors] == [(6, "serial")]


@pytest.mark.parametrize("size", [2, 1000])
def test_ragged_rows_are_refused_like_the_generic_reader_does(tmp_path: Path,
                                                               size: int) -> None:
    body = (GOOD.format(n=1) + "VZ7-2025-000002,prd-0001,LOT-A,ord-0001,lic-0001\n"
            + GOOD.format(n=3).replace("\n", ",,\n")
            + GOOD.format(n=4).replace("\n", ",extra\n") + GOOD.format(n=5))
    batched, generic = read_both(tmp_path, body, size)
    assert batched == generic
    rows, _, errors = batched
    assert rows == [2, 4, 6]
    assert [(e.row, e.column) for e in errors] == [(3, "*"), (5, "*")]


def test_every_row_of_one_other_width_is_refused(tmp_path: Path) -> None:
    body = "".join(GOOD.format(n=n).replace(",2025-10-01", "") for n in range(3))
    batched, generic = read_both(tmp_path, body, 1000)
    assert batched == generic
    assert batched[0] == []
    assert [(e.row, e.column) for e in batched[2]] == [(2, "*"), (3, "*"), (4, "*")]
