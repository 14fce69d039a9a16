"""Read a whole database as plain data, to assert that a refused import changed nothing
and that SQLite and PostgreSQL hold the same thing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from dronedeal.store.base import Base

Rows = list[tuple[Any, ...]]


def dump(engine: Engine, *, skip_columns: frozenset[str] = frozenset()) -> dict[str, Rows]:
    """Every table's rows, sorted by primary key, as tuples of plain values."""
    import dronedeal.store.tables  # noqa: F401

    result: dict[str, Rows] = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if c.name not in skip_columns]
            rows = [tuple(_plain(v) for v in row) for row in conn.execute(select(*columns))]
            # sorted here, not by ORDER BY: the two databases collate text differently
            result[table.name] = sorted(rows, key=lambda row: [(v is None, str(v)) for v in row])
    return result


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    return value
