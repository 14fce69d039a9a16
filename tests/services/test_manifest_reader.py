"""A manifest read by a second process imports exactly as one read in the importing one.

`services.manifest_reader` parses a large shipments or inspections file in another
process and hashes each row's log leaf there. These tests force that path on small files
(`process_from=0`, batches of a few rows) and compare it with the serial path on a
second database: the same rows, leaves, hashes, checkpoints and refusals (file, row,
column, sentence), nothing written on a refusal, and a reader that fails or is left
early never leaves the import hanging or a process behind.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.conftest import TEST_DB
from tests.dbdump import dump
from tests.packs import write_pack
from tests.services.test_deliveries import MASTER, inspections, serials, shipments
from tests.verifying import verified

from dronedeal.core import merkle
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.pack.batches import Batch, iter_batches
from dronedeal.pack.sources import TableSource
from dronedeal.pack.tables import TABLES
from dronedeal.services import keys
from dronedeal.services.deliveries import EventSummary, import_events
from dronedeal.services.importer import import_pack
from dronedeal.services.manifest_reader import (
    Lookup,
    ReadBatch,
    ReaderFailedError,
    inspection_hasher,
    read_manifest,
    shipment_hasher,
)
from dronedeal.store import events
from dronedeal.store.db import make_engine, scratch_schema
from dronedeal.store.schema import create_schema


@pytest.fixture
def twin(tmp_path: Path) -> Iterator[Engine]:
    """A second empty database of the kind under test."""
    if TEST_DB == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'twin.db'}")
        create_schema(engine)
        yield engine
        engine.dispose()
        return
    with scratch_schema(TEST_DB, "t_") as url:
        engine = make_engine(url)
        create_schema(engine)
        yield engine
        engine.dispose()


def timeless(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """The whole database without the timestamps (the clock's, not the import's)."""
    return {table: [tuple(None if isinstance(v, dt.datetime) else v for v in row)
                    for row in rows] for table, rows in dump(engine).items()}


def import_files(engine: Engine, folder: Path, signer: keys.Signer, *, parallel: bool
                 ) -> EventSummary:
    """Import the event files of `folder` in batches of 7 rows, the manifests read by a
    second process when `parallel`."""
    sources = {table: TableSource(table, folder / f"{table}.csv")
               for table in ("shipments", "inspections") if (folder / f"{table}.csv").exists()}
    with Session(engine) as session, session.begin():
        return import_events(session, sources, signer, batch_rows=7,
                             process_from=0 if parallel else 1 << 62)


def master(engine: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    with Session(engine) as session, session.begin():
        import_pack(session, write_pack(tmp_path / f"master-{id(engine)}", MASTER), signer)


def interleaved_lots() -> list[str]:
    """Shipments whose lots alternate row by row (leaves go lot by lot within a batch)."""
    return [f"{serial},prd-0001,LOT-{'AB'[n % 2]},ord-0001,lic-0001,2025-10-0{1 + n % 3}"
            for n, serial in enumerate(serials(40))]


def checked_units() -> list[str]:
    reasons = ['"Rotor ""B"" cracked — ß"', '"arm bent\nsee photo\\2"', "motor hum"]
    rows = []
    for n, serial in enumerate(serials(40)):
        reason = reasons[n % 3] if n % 4 == 1 else ""
        rows.append(f"{serial},prd-0001,{'rejected' if reason else 'accepted'},{reason},"
                    f"2025-10-{10 + n % 4}")
    return rows


def test_parallel_import_stores_what_the_serial_one_does(
    engine: Engine, twin: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    for database in (engine, twin):
        master(database, tmp_path, signer)
    packs = [write_pack(tmp_path / "ship", {"shipments.csv": shipments(interleaved_lots())}),
             write_pack(tmp_path / "check", {"inspections.csv": inspections(checked_units())})]
    for folder in packs:
        serial = import_files(twin, folder, signer, parallel=False)
        parallel = import_files(engine, folder, signer, parallel=True)
        assert parallel == serial
    # shipments and their inspections in one pack: the units shipped by this import are
    # not in the store the reader's look-ups see (not committed yet), nor asked for
    both = write_pack(tmp_path / "both", {
        "shipments.csv": shipments([row.replace("VZ7-2025-0000", "VZ7-2025-0001")
                                    for row in interleaved_lots()]),
        "inspections.csv": inspections([row.replace("VZ7-2025-0000", "VZ7-2025-0001")
                                        for row in checked_units()])})
    assert (import_files(engine, both, signer, parallel=True)
            == import_files(twin, both, signer, parallel=False))
    assert timeless(engine) == timeless(twin)
    assert verified(engine, signer.verifier()).ok
    # a re-import is a no-op on both paths
    for folder in packs:
        again = import_files(engine, folder, signer, parallel=True)
        assert again.leaves == 0
        assert sum(again.unchanged.values()) == 40
    assert timeless(engine) == timeless(twin)


def test_nodes_the_reader_prepared_are_used_only_when_they_fit(
    engine: Engine, twin: Engine, tmp_path: Path, signer: keys.Signer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for database in (engine, twin):
        master(database, tmp_path, signer)
    computed: list[int] = []  # leaves whose nodes the importing process computed itself
    extend = merkle.extend

    def counting(edge: merkle.RightEdge, hashes: bytes) -> merkle.Extension:
        computed.append(len(hashes) // merkle.HASH_SIZE)
        return extend(edge, hashes)

    monkeypatch.setattr(merkle, "extend", counting)
    lots = [f"{serial},prd-0001,LOT-{n // 10},ord-0001,lic-0001,2025-10-01"
            for n, serial in enumerate(serials(30))]
    first = write_pack(tmp_path / "first", {"shipments.csv": shipments(lots[:10])})
    # rows 2-11 were imported before: a no-op, so the first batch appends rows 12-15 only
    # and the reader's nodes (of all seven rows) do not fit; from then on they do not
    # either, the log being shorter than the reader assumed
    whole = write_pack(tmp_path / "whole", {"shipments.csv": shipments(lots)})
    for database, parallel in ((twin, False), (engine, True)):
        import_files(database, first, signer, parallel=parallel)
        computed.clear()
        import_files(database, whole, signer, parallel=parallel)
    assert computed == [4, 7, 7, 2]
    assert timeless(engine) == timeless(twin)
    assert verified(engine, signer.verifier()).ok
    computed.clear()
    # a file of new rows in lots of ten: every batch appends its rows in order
    more = write_pack(tmp_path / "more", {"shipments.csv": shipments(
        [f"{serial},prd-0001,LOT-{n // 10},ord-0001,lic-0001,2025-10-01"
         for n, serial in enumerate(serials(40, start=100))])})
    import_files(engine, more, signer, parallel=True)
    assert computed == []
    import_files(twin, more, signer, parallel=False)
    assert timeless(engine) == timeless(twin)
    assert verified(engine, signer.verifier()).ok


@pytest.mark.skipif(TEST_DB != "sqlite", reason="the look-up server reads SQLite files")
def test_the_reader_looks_stored_shipments_up_in_a_server_of_its_own(
    engine: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    master(engine, tmp_path, signer)
    import_files(engine, write_pack(tmp_path / "ship", {"shipments.csv": shipments(
        interleaved_lots())}), signer, parallel=True)
    path = tmp_path / "inspections.csv"
    path.write_text(inspections(checked_units()), encoding="utf-8")
    source = TableSource("inspections", path)
    makers = {"prd-0001": "ua-mfr-001"}
    with Session(engine) as session:
        database = events.lookup_database(session)
        assert database is not None
        expected = events.shipped_lots_of(session, "ua-mfr-001", serials(40))
    looked_up: dict[str, Any] = {}
    for read in read_manifest(source, inspection_hasher(makers), process_from=0, size=7,
                              lookup=Lookup(database, makers)):
        lots = read.stored_lots()
        assert lots is not None
        looked_up.update(lots["ua-mfr-001"])
    assert looked_up == expected
    # a server that cannot start its work leaves the look-ups to the import
    for read in read_manifest(source, inspection_hasher(makers), process_from=0, size=7,
                              lookup=Lookup(str(tmp_path / "no-such.db"), makers)):
        assert read.stored_lots() is None
    assert not multiprocessing.active_children()


def test_parallel_refusals_name_the_same_rows_and_write_nothing(
    engine: Engine, twin: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    for database in (engine, twin):
        master(database, tmp_path, signer)
    rows = interleaved_lots()
    rows[3] = rows[3].replace("2025-10-0", "2025-13-0")  # a bad date
    rows[17] = rows[2]  # the same serial again, in another batch
    rows[25] = rows[25].replace("prd-0001", "prd-9999")  # no such product
    rows.append("VZ7 2025,prd-0001,LOT-A,ord-0001,lic-0001,2025-10-01")  # a bad id
    folder = write_pack(tmp_path / "ship", {"shipments.csv": shipments(rows)})
    errors: list[list[RowError]] = []
    for database, parallel in ((twin, False), (engine, True)):
        before = dump(database)
        with pytest.raises(RefusedError) as caught:
            import_files(database, folder, signer, parallel=parallel)
        assert dump(database) == before
        errors.append(caught.value.errors)
    assert errors[1] == errors[0]
    assert [(e.row, e.column) for e in errors[1]] == [
        (5, "shipped_on"), (19, "serial"), (27, "product_id"), (42, "serial")]


def test_a_failing_reader_raises_its_error_here(tmp_path: Path) -> None:
    source = manifest(tmp_path, 30)

    def broken(batch: Batch) -> bytes:
        raise ValueError(f"cannot hash row {batch.rows[0]}")

    with pytest.raises(ValueError, match="cannot hash row 2"):
        list(read_manifest(source, broken, process_from=0, size=7))
    assert not multiprocessing.active_children()


def test_a_reader_that_dies_is_a_clean_error(tmp_path: Path) -> None:
    source = manifest(tmp_path, 30)

    def dying(batch: Batch) -> bytes:
        os._exit(3)

    with pytest.raises(ReaderFailedError, match=r"shipments\.csv ended .* \(exit code 3\)"):
        list(read_manifest(source, dying, process_from=0, size=7))
    assert not multiprocessing.active_children()


def test_an_import_that_stops_early_ends_its_reader(tmp_path: Path) -> None:
    source = manifest(tmp_path, 100)
    reading = read_manifest(source, shipment_hasher({}), process_from=0, size=7)
    first = next(reading)
    assert first.hashes is not None
    assert len(first.hashes) == 32 * 7
    reading.close()
    assert not multiprocessing.active_children()


def test_the_reader_yields_the_batches_of_the_serial_reader(tmp_path: Path) -> None:
    rows = interleaved_lots()
    rows[3] = rows[3].replace("2025-10-0", "2025-10-3")
    source = manifest(tmp_path, 0, rows)
    spec = TABLES["shipments"]
    serial = [(b.rows, b.values, b.errors) for b in iter_batches(source, spec, size=7)]
    parallel = [(r.batch.rows, r.batch.values, r.batch.errors)
                for r in read_manifest(source, shipment_hasher({}), process_from=0, size=7)]
    assert parallel == serial


def manifest(tmp_path: Path, count: int, rows: list[str] | None = None) -> TableSource:
    path = tmp_path / "shipments.csv"
    path.write_text(shipments(rows if rows is not None else [
        f"{serial},prd-0001,LOT-A,ord-0001,lic-0001,2025-10-01" for serial in serials(count)]),
        encoding="utf-8")
    return TableSource("shipments", path)


def test_a_request_thread_reads_in_its_own_process(tmp_path: Path) -> None:
    """Off the main thread (a server's request) the manifest is read without a fork:
    the same batches, no hashes."""
    source = manifest(tmp_path, 20)
    found: list[list[ReadBatch]] = []
    thread = threading.Thread(target=lambda: found.append(list(
        read_manifest(source, shipment_hasher({}), process_from=0, size=7))))
    thread.start()
    thread.join()
    in_thread = found[0]
    assert len(in_thread) == 3
    assert [read.hashes for read in in_thread] == [None, None, None]
    forked = list(read_manifest(source, shipment_hasher({}), process_from=0, size=7))
    assert [read.hashes is not None for read in forked] == [True, True, True]
    assert [r.batch.rows for r in in_thread] == [r.batch.rows for r in forked]
