"""Stored rows by serial, and a look-up server of stored shipments for the manifest reader.

Standard library only, so that `serve` runs as a script in a fresh interpreter (`python
serial_scan.py DATABASE`): a process with its own SQLite connection and no SQLite state
inherited from a `fork` of the importing process. It answers the inspection import's
look-ups of the shipments stored before (one request per manufacturer and batch) while
the import writes the batch before; it reads the last committed state, which is what
the import sees of earlier imports (the import holds the write lock from its start, so
nothing commits in between, and what it writes itself it keeps in memory).

Protocol on stdin/stdout: frames of an 8-byte little-endian length and a pickle; a
request is a list of `(manufacturer_id, serials)`, the answer the list of the
`compact` rows of `rows_by_serial` for `SHIPPED_LOTS` of each. One request per batch, so
that the reader sends it, hashes the batch while the server looks it up, and only then
reads the answer, which it hands on unopened (`receive_raw`) to the importing process.
End of input ends the server.
"""

from __future__ import annotations

import pickle
import sqlite3
import sys
from array import array
from collections.abc import Sequence
from itertools import compress
from operator import itemgetter
from pathlib import Path
from typing import IO, Any, Final

#: parameters per `IN` list
CHUNK: Final = 500
#: the columns of a stored shipment an inspection needs, after its serial
SHIPPED_LOTS: Final = "product_id, lot_id, order_id, shipped_on"

_first: Final = itemgetter(0)


def rows_by_serial(cursor: Any, mark: str, table: str, columns: str, *, manufacturer_id: str,
                   serials: Sequence[str]) -> list[Sequence[Any]]:
    """Rows (the serial first, then `columns`) of one manufacturer's `serials` in `table`,
    by a DB-API `cursor` whose parameter mark is `mark`. Manifests list serials in runs,
    so when the stored serials between the smallest and the largest asked for are not
    many more than those asked for, one range scan of the primary key replaces the `IN`
    lists (the scan stops after twice as many rows as asked for: then the lists are
    cheaper)."""
    asked = set(serials)
    if not asked:
        return []
    cursor.execute(
        f"SELECT serial, {columns} FROM {table} WHERE manufacturer_id = {mark} AND "
        f"serial BETWEEN {mark} AND {mark} ORDER BY serial LIMIT {mark}",
        (manufacturer_id, min(asked), max(asked), 2 * len(asked) + 1))
    stored = cursor.fetchall()
    if len(stored) <= 2 * len(asked):  # the whole range
        return list(compress(stored, map(asked.__contains__, map(_first, stored))))
    rows: list[Sequence[Any]] = []
    wanted = sorted(asked)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        marks = ", ".join(mark for _ in chunk)
        cursor.execute(f"SELECT serial, {columns} FROM {table} WHERE manufacturer_id = "
                       f"{mark} AND serial IN ({marks})", (manufacturer_id, *chunk))
        rows.extend(cursor.fetchall())
    return rows


#: rows of one manufacturer as `compact` gives them: the serials, for each the index of
#: its group in 4-byte native unsigned integers (`array("I")`), and the distinct groups
#: (the columns after the serial)
Compact = tuple[list[str], bytes, list[tuple[Any, ...]]]


def compact(rows: Sequence[Sequence[Any]]) -> Compact:
    """`rows` (the serial first) as serials and indices into their distinct remaining
    columns: the units of a lot share product, lot, order and date, so a million rows
    pickle as a million serials and a few thousand groups."""
    groups: dict[tuple[Any, ...], int] = {}
    indices = array("I", [groups.setdefault(tuple(row[1:]), len(groups)) for row in rows])
    return [row[0] for row in rows], indices.tobytes(), list(groups)


def expand(message: Compact) -> tuple[list[str], list[int], list[tuple[Any, ...]]]:
    """The serials, group indices and groups of a `compact` message."""
    serials, raw, groups = message
    indices = array("I")
    indices.frombytes(raw)
    return serials, indices.tolist(), groups


def send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(len(data).to_bytes(8, "little"))
    stream.write(data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or raise EOFError at the end of the stream."""
    return pickle.loads(receive_raw(stream))  # our own processes on both ends


def receive_raw(stream: IO[bytes]) -> bytes:
    """The next message still pickled, or raise EOFError at the end of the stream."""
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the stream ended")
    size = int.from_bytes(header, "little")
    data = stream.read(size)
    if len(data) < size:
        raise EOFError("the stream ended inside a message")
    return data


def serve(database: str) -> None:
    """Answer look-ups of stored shipments in the SQLite file `database` (read only)."""
    connection = sqlite3.connect(Path(database).resolve().as_uri() + "?mode=ro", uri=True)
    connection.execute("PRAGMA busy_timeout=30000")
    cursor = connection.cursor()
    while True:
        try:
            request = receive(sys.stdin.buffer)
        except EOFError:
            return
        send(sys.stdout.buffer, [compact(rows_by_serial(cursor, "?", "shipment", SHIPPED_LOTS,
                                                        manufacturer_id=manufacturer_id,
                                                        serials=serials))
                                 for manufacturer_id, serials in request])


if __name__ == "__main__":
    serve(sys.argv[1])
