"""The look-up server's compact answers say exactly what its rows say."""

from __future__ import annotations

import datetime as dt
import pickle

from hypothesis import given
from hypothesis import strategies as st

from dronedeal.store import events, serial_scan

ROWS = st.lists(st.tuples(
    st.text(min_size=1, max_size=6),
    st.sampled_from(["prd-1", "prd-2"]), st.sampled_from(["LOT-A", "LOT-B", "LOT-C"]),
    st.sampled_from(["ord-1", "ord-2"]),
    st.dates(dt.date(2025, 1, 1), dt.date(2026, 12, 31)).map(dt.date.isoformat)),
    max_size=40, unique_by=lambda row: row[0])


@given(ROWS)
def test_a_compact_answer_expands_to_the_shipped_lots_of_its_rows(
        rows: list[tuple[str, str, str, str, str]]) -> None:
    message = pickle.loads(pickle.dumps(serial_scan.compact(rows)))
    assert events.shipped_lots_expanded(message) == events.shipped_lots_from(rows)
    serials, indices, groups = serial_scan.expand(message)
    assert [(serial, *groups[index]) for serial, index in zip(serials, indices, strict=True)
            ] == [tuple(row) for row in rows]
    assert len(groups) == len({row[1:] for row in rows})
