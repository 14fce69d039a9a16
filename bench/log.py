"""Benchmark the verifiable log: append, inclusion proofs, full verify (SPEC §11).

    uv run python bench/log.py [--n 1000000] [--pg postgresql://127.0.0.1:5432/test?user=postgres]

Appends N canonical-JSON leaves in batches of 8,190 (one transaction and one signed
checkpoint per batch) on SQLite (WAL, synchronous=FULL) and, with `--pg`, on PostgreSQL
(leaves by COPY); then serves inclusion proofs for random leaves from a warm tile cache
and verifies the whole log. Floors from the same run: a plain bulk insert of the same
rows (hashes precomputed) and SHA-256 of the leaves alone. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from hashlib import sha256
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from benchkit import PROOF_BATCHES, emit, postgres_database, proof_seconds, sqlite_database
from dronedeal.core.canonical import canonical_json
from dronedeal.services import audit, keys
from dronedeal.store.db import make_engine
from dronedeal.store.schema import create_schema

BATCH = 8190


def make_leaves(n: int) -> list[tuple[str, str]]:
    """Leaves of a kind that keeps its own text (bench/ledger.py measures the derived
    `transfer` leaves, whose rows render their text)."""
    return [("record", canonical_json({
        "kind": "record", "transfer_id": f"t-{i:09d}", "agreement_id": "ua-us-2025",
        "date": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}", "currency": "USD",
        "legs": [{"account": "receivable:us-dod", "amount": f"{i % 100000}.25"},
                 {"account": "revenue:uav", "amount": f"-{i % 100000}.25"}],
    })) for i in range(n)]


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def floor_insert(engine: Engine, rows: list[tuple[int, str, str]]) -> float:
    """The same rows written by the database's plain bulk path, nothing else."""
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE floor_leaf (idx BIGINT PRIMARY KEY, "
                                   "kind VARCHAR(32) NOT NULL, leaf TEXT NOT NULL)"
                                   if engine.dialect.name == "postgresql" else
                                   "CREATE TABLE floor_leaf (idx INTEGER PRIMARY KEY, "
                                   "kind VARCHAR(32) NOT NULL, leaf TEXT NOT NULL)")
    start = time.perf_counter()
    for low in range(0, len(rows), BATCH):
        batch = rows[low : low + BATCH]
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                raw: Any = connection.connection.driver_connection
                with raw.cursor() as cursor, cursor.copy(
                        "COPY floor_leaf (idx, kind, leaf) FROM STDIN") as copy:
                    for row in batch:
                        copy.write_row(row)
            else:
                connection.exec_driver_sql("INSERT INTO floor_leaf VALUES (?, ?, ?)", batch)
    return time.perf_counter() - start


def run(db: str, url: str, *, proofs: int, leaves: list[tuple[str, str]],
        signer: keys.Signer) -> None:
    n = len(leaves)
    engine = make_engine(url)
    create_schema(engine)

    def hash_all() -> list[bytes]:
        return [sha256(b"\x00" + leaf.encode()).digest() for _, leaf in leaves]

    sha_seconds, hashes = timed(hash_all)
    emit(bench="log.floor.sha256", db=db, n=n, seconds=round(sha_seconds, 3),
         per_s=round(n / sha_seconds))
    rows = [(i, kind, leaf) for i, (kind, leaf) in enumerate(leaves)]
    floor_seconds = floor_insert(engine, rows)
    emit(bench="log.append.floor", db=db, n=n, seconds=round(floor_seconds, 3),
         per_s=round(n / floor_seconds))
    del rows, hashes

    start = time.perf_counter()
    for low in range(0, n, BATCH):
        with Session(engine) as session, session.begin():
            audit.append_leaves(session, leaves[low : low + BATCH], signer)
    append_seconds = time.perf_counter() - start
    emit(bench="log.append", db=db, n=n, batch=BATCH, seconds=round(append_seconds, 3),
         per_s=round(n / append_seconds), floor_ratio=round(append_seconds / floor_seconds, 2))

    for batch in PROOF_BATCHES:
        seconds = proof_seconds(engine, n, proofs, seed=7, batch=batch)
        emit(bench="log.proofs", db=db, n=n, proofs=proofs, batch=batch,
             seconds=round(seconds, 3), per_s=round(proofs / seconds))

    for workers in sorted({1, os.cpu_count() or 1}):  # `dronedeal audit verify` uses all
        with Session(engine) as session:
            verify_seconds, report = timed(
                lambda session=session, workers=workers: audit.verify(
                    session, signer.vkey(), workers=workers))
        assert report.ok, report.problem
        emit(bench="log.verify", db=db, n=n, workers=workers,
             checkpoints=report.checkpoints_checked, seconds=round(verify_seconds, 3),
             per_s=round(n / verify_seconds), floor_seconds=round(sha_seconds, 3),
             floor_ratio=round(verify_seconds / sha_seconds, 2))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="leaves to append")
    parser.add_argument("--proofs", type=int, default=20_000, help="inclusion proofs to time")
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database")
    args = parser.parse_args(argv)
    leaves = make_leaves(args.n)
    with tempfile.TemporaryDirectory(prefix="dronedeal-bench-") as folder:
        signer = keys.create_key(Path(folder) / "signing.key", "bench.dronedeal/log")
        with sqlite_database(Path(folder)) as url:
            run("sqlite", url, proofs=args.proofs, leaves=leaves, signer=signer)
        if args.pg:
            with postgres_database(args.pg) as url:
                run("postgresql", url, proofs=args.proofs, leaves=leaves, signer=signer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
