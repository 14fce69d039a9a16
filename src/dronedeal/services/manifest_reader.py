"""Reading a manifest (shipments, inspections) for the deliveries import, and the text of
its log leaves.

A manifest of a million rows is read by a second process: it parses the CSV into typed
batches (`pack.iter_batches`) and hashes the log leaf of every row as the import would
append it, while the importing process checks and writes the batch before. The import
uses a row's hash only if it accepts the row, so the reader writes nothing and decides
nothing: a row it cannot place (an unknown product) gets a hash that is never used,
since the import refuses that row.

Invariants:

- The reader yields exactly what `iter_batches` yields, in order (rows, values, every
  `RowError`), plus one leaf hash per row; the serial path (a small file, or no `fork`)
  yields the same batches without hashes and the import renders and hashes the leaves
  itself with the same functions (`shipment_leaf_parts`, `inspection_leaf`), so a leaf's
  text and hash never depend on the path.
- A failure of the reader surfaces in the importing process: the reader's exception is
  raised there, or `ReaderFailedError` when the reader died without one; the import's
  transaction then rolls back like on any other error.
- The reader holds one batch beyond the one being sent (a pipe between the processes
  holds no more), and ends when the import stops reading, however it stops.
- On a SQLite file, the reader of an inspections file also has the shipments stored
  before of each batch's units looked up, by `store.serial_scan.serve` in a fresh
  interpreter (its own connection, no SQLite state inherited through `fork`). It reads
  the last committed state: all the import sees of earlier imports, since the import
  holds the write lock from its start; units this import shipped are in the import's
  memory and never asked for. If the server fails, the import looks them up itself.
- Leaf texts: `canonical_json` of the leaf document, written directly since ids hold
  only `[A-Za-z0-9._:-]`, which JSON never escapes; the one free-text value, an
  inspection's reason, goes through the canonical encoder (tests check they agree).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final, cast

from dronedeal.core.canonical import canonical_json
from dronedeal.core.merkle import HASH_SIZE, RightEdge, extend, leaf_hash
from dronedeal.pack.batches import BATCH_ROWS, Batch, iter_batches
from dronedeal.pack.sources import TableSource
from dronedeal.pack.tables import TABLES
from dronedeal.services.audit import Prepared
from dronedeal.store import events, serial_scan

#: a CSV manifest of at least this many bytes (some 60k rows) is read by a second process
PROCESS_FROM_BYTES: Final = 4 << 20
#: seconds a look-up server gets to end after its input ends
_SERVER_WAIT: Final = 10.0
#: head and tail texts kept per reader (distinct product, lot, order, license and date)
_PARTS_KEPT: Final = 65_536

#: a batch's leaf hashes (32 bytes per row, in row order), computed by the reader
LeafHasher = Callable[[Batch], bytes]


class ReaderFailedError(RuntimeError):
    """The process reading a manifest ended without finishing it or saying why."""


@dataclass(frozen=True, slots=True)
class ReadBatch:
    """A batch of a manifest and, when the reader hashed them, each row's leaf hash."""

    batch: Batch
    #: concatenated leaf hashes, one per `batch.rows` entry in its order; None: not hashed
    hashes: bytes | None = None
    #: the log's nodes should every row be appended, in row order, right after the rows
    #: of the batches before (the usual case: the import checks that it is the case)
    prepared: Prepared | None = None
    #: the manufacturers asked for and the look-up server's answer, still pickled (the
    #: reader hands it on unopened), when a server answered (`Lookup`)
    stored: tuple[list[str], bytes] | None = None

    def stored_lots(self) -> dict[str, dict[str, tuple[str, str, str, dt.date]]] | None:
        """Manufacturer -> `events.shipped_lots_of` of the batch's serials of its
        products, when a look-up server answered them."""
        if self.stored is None:
            return None
        makers, answer = self.stored
        return {maker: events.shipped_lots_expanded(message) for maker, message in
                zip(makers, pickle.loads(answer), strict=True)}  # our own server's


@dataclass(frozen=True, slots=True)
class Lookup:
    """Where the reader looks up the shipments stored before of a batch's units: the
    SQLite file (`events.lookup_database`) and product -> manufacturer."""

    database: str
    makers: Mapping[str, str]


def read_manifest(source: TableSource, hasher: LeafHasher | None, *,
                  edge: Callable[[], RightEdge] | None = None, lookup: Lookup | None = None,
                  process_from: int = PROCESS_FROM_BYTES, size: int = BATCH_ROWS
                  ) -> Iterator[ReadBatch]:
    """The batches of `source` (`size` rows at most), with leaf hashes by `hasher`, read
    by a second process when the file is a CSV of at least `process_from` bytes and
    `fork` is available; else read here, without hashes. With `edge` (the log's right
    edge now), the reader also prepares the nodes of each batch's leaves; with `lookup`,
    it has the stored shipments of each batch's units looked up (inspections)."""
    batches = iter_batches(source, TABLES[source.table], size=size)
    if hasher is None or not _worth_a_process(source, process_from):
        for batch in batches:
            yield ReadBatch(batch)
        return
    yield from _in_process(source, batches, hasher, None if edge is None else edge(), lookup)


def _worth_a_process(source: TableSource, process_from: int) -> bool:
    if source.sheet is not None or "fork" not in multiprocessing.get_all_start_methods():
        return False
    if threading.current_thread() is not threading.main_thread():
        # a server's request thread (an upload to the API or the dashboard): forking a
        # process whose other threads may hold locks is not safe, so it reads here
        return False
    try:
        return os.path.getsize(source.path) >= process_from
    except OSError:  # the serial path reports the file the way every reader does
        return False


def _in_process(source: TableSource, batches: Iterator[Batch], hasher: LeafHasher,
                edge: RightEdge | None, lookup: Lookup | None) -> Iterator[ReadBatch]:
    # fork: the reader starts at once with the compiled spec, the hasher and its master
    # data, and touches nothing of this process's database connection
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    reader = context.Process(target=_read,
                             args=(batches, hasher, edge, lookup, (receiver, sender)),
                             name=f"dronedeal-read-{source.table}", daemon=True)
    reader.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                reader.join()
                raise ReaderFailedError(
                    f"the process reading {source.file} ended before the end of the file "
                    f"(exit code {reader.exitcode}); nothing was imported") from None
            if message is None:
                return
            if isinstance(message, BaseException):
                raise message
            assert isinstance(message, ReadBatch), "the reader sends batches"
            yield message
    finally:
        receiver.close()
        if reader.is_alive():
            reader.terminate()
        reader.join()
        reader.close()


def _read(batches: Iterator[Batch], hasher: LeafHasher, edge: RightEdge | None,
          lookup: Lookup | None, ends: tuple[Connection, Connection]) -> None:
    """The reader process: send each batch with its hashes (and the nodes they would
    add to the log after `edge`, and the stored shipments of its units), then None (or
    the error)."""
    receiver, sender = ends
    # the importer's end, inherited through the fork: closed, so that when the importer
    # dies (even by SIGKILL) a send fails at once instead of waiting for a reader that
    # is this very process
    receiver.close()
    server = None if lookup is None else _LookupServer.start(lookup)
    try:
        try:
            for batch in batches:
                # the server looks the batch's units up while this process hashes it
                asked = None if server is None else server.ask(batch)
                hashes = hasher(batch)
                assert len(hashes) == len(batch.rows) * HASH_SIZE, "one hash per row"
                prepared = None
                if edge is not None and hashes:
                    prepared = Prepared(edge, extend(edge, hashes))
                    edge = prepared.extension.edge
                stored = None
                if server is not None:
                    stored = None if asked is None else server.answer(asked)
                    if stored is None:  # the server failed: the importer looks them up
                        server = None
                sender.send(ReadBatch(batch, hashes, prepared, stored))
            sender.send(None)
        except OSError:  # the importer stopped reading
            return
        except BaseException as exc:  # handed to the importer, which raises it
            try:
                sender.send(exc)
            except Exception:  # one that does not pickle: its type and message
                sender.send(ReaderFailedError(f"{type(exc).__name__}: {exc}"))
    except OSError:
        return
    finally:
        sender.close()
        if server is not None:
            server.stop()


class _LookupServer:
    """`serial_scan.serve` in a fresh interpreter, asked by the reader."""

    def __init__(self, process: subprocess.Popen[bytes], makers: Mapping[str, str]) -> None:
        self.process = process
        self.makers = makers

    @classmethod
    def start(cls, lookup: Lookup) -> _LookupServer | None:
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", serial_scan.__file__, lookup.database],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError:
            return None
        return cls(process, lookup.makers)

    def ask(self, batch: Batch) -> list[str] | None:
        """Send the look-up of the batch's serials (per manufacturer of their products;
        products not in the master data are left out: the import refuses their rows)
        and return the manufacturers asked for, whose answer `answer` reads; None, the
        server stopped, if it fails."""
        wanted: dict[str, list[str]] = {}
        for value in _values(batch):
            maker = self.makers.get(value[1])
            if maker is not None:
                wanted.setdefault(maker, []).append(value[0])
        assert self.process.stdin is not None, "the server reads a pipe"
        try:
            serial_scan.send(self.process.stdin, list(wanted.items()))
        except OSError:
            self.stop()
            return None
        return list(wanted)

    def answer(self, makers: list[str]) -> tuple[list[str], bytes] | None:
        """The manufacturers asked for and the server's answer, unopened (the importing
        process reads it: `ReadBatch.stored_lots`); None, the server stopped, if it
        fails."""
        assert self.process.stdout is not None, "the server writes a pipe"
        try:
            return makers, serial_scan.receive_raw(self.process.stdout)
        except (OSError, EOFError):
            self.stop()
            return None

    def stop(self) -> None:
        """End the server (its input ends) and wait for it."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self.process.wait(timeout=_SERVER_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- leaf texts and hashes ----------------------------------------------------------------


def _values(batch: Batch) -> list[tuple[Any, ...]]:
    return cast(list[tuple[Any, ...]], batch.values)


def shipment_leaf_parts(*, license_id: str | None, lot_id: str, maker: str, order_id: str,
                        product_id: str, day_text: str) -> tuple[str, str]:
    """The text of a shipment leaf before and after its serial."""
    license_text = "null" if license_id is None else f'"{license_id}"'
    head = (f'{{"kind":"shipment","license_id":{license_text},"lot_id":"{lot_id}",'
            f'"manufacturer_id":"{maker}","order_id":"{order_id}",'
            f'"product_id":"{product_id}","serial":"')
    return head, f'","shipped_on":"{day_text}"}}'


def inspection_leaf(serial: str, *, maker: str, product_id: str, result: str,
                    reason: str | None, day_text: str) -> str:
    """The text of an inspection leaf."""
    reason_text = "null" if reason is None else canonical_json(reason)
    return (f'{{"inspected_on":"{day_text}","kind":"inspection",'
            f'"manufacturer_id":"{maker}","product_id":"{product_id}",'
            f'"reason":{reason_text},"result":"{result}","serial":"{serial}"}}')


def shipment_hasher(makers: Mapping[str, str]) -> LeafHasher:
    """Leaf hashes of shipment batches; `makers`: product -> manufacturer."""
    parts_of: dict[tuple[Any, ...], tuple[str, str]] = {}

    def hashes(batch: Batch) -> bytes:
        out: list[bytes] = []
        for serial, product_id, lot_id, order_id, license_id, shipped_on in _values(batch):
            key = (product_id, lot_id, order_id, license_id, shipped_on)
            parts = parts_of.get(key)
            if parts is None:
                if len(parts_of) >= _PARTS_KEPT:
                    parts_of.clear()
                parts = parts_of[key] = shipment_leaf_parts(
                    license_id=license_id, lot_id=lot_id, maker=makers.get(product_id, ""),
                    order_id=order_id, product_id=product_id,
                    day_text=shipped_on.isoformat())
            out.append(leaf_hash((parts[0] + serial + parts[1]).encode()))
        return b"".join(out)

    return hashes


def inspection_hasher(makers: Mapping[str, str]) -> LeafHasher:
    """Leaf hashes of inspection batches; `makers`: product -> manufacturer."""
    days: dict[Any, str] = {}

    def hashes(batch: Batch) -> bytes:
        out: list[bytes] = []
        for serial, product_id, result, reason, inspected_on in _values(batch):
            day_text = days.get(inspected_on)
            if day_text is None:
                day_text = days[inspected_on] = inspected_on.isoformat()
            text = inspection_leaf(serial, maker=makers.get(product_id, ""),
                                   product_id=product_id, result=result, reason=reason,
                                   day_text=day_text)
            out.append(leaf_hash(text.encode()))
        return b"".join(out)

    return hashes
