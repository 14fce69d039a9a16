"""Benchmark ledger posting (SPEC §11: ≥ 150k transfers/s, ≤ 3× the floor).

    uv run python bench/ledger.py [--n 1000000] [--pg postgresql://127.0.0.1:5432/test?user=postgres]

Posts N transfers through `services.ledger.post_transfers` in batches of 8,190, one
transaction per batch: validation, the idempotency look-up, one log leaf per transfer
(leaf text, hash, Merkle nodes, one signed checkpoint per batch) and the transfer rows.
SQLite runs in WAL mode with synchronous=FULL; with `--pg` the same runs on PostgreSQL.
The floor, measured in the same run on the same database: the same transfer rows
written into a bare table of the same columns (primary key only) by the database's
plain bulk path, `executemany` on SQLite and `COPY` on PostgreSQL, one transaction per
batch. Building the transfers (the client's work) is outside both timings. Then, on
the posted ledger: inclusion proofs of random transfer leaves (each text rendered from
its row) and the full `audit verify`. Prints JSON lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from benchkit import PROOF_BATCHES, emit, postgres_database, proof_seconds
from dronedeal.core import merkle
from dronedeal.core.ledger import ACCEPTANCE, PAYMENT, Transfer
from dronedeal.services import audit, keys
from dronedeal.services.ledger import post_transfers
from dronedeal.store.db import make_engine
from dronedeal.store.ledger import COLUMNS
from dronedeal.store.schema import create_schema

BATCH = 8190
PARTIES = [f"party-{p:03d}" for p in range(64)]
START = dt.date(2025, 8, 1)


def make_batch(low: int, high: int) -> list[Transfer]:
    """Transfers low … high-1 of a deterministic ledger of two agreements."""
    batch = []
    for i in range(low, high):
        debit = PARTIES[i % 64]
        credit = PARTIES[(i * 7 + 1) % 64]
        if credit == debit:
            credit = PARTIES[(i + 1) % 64]
        agreement, currency = ("ua-us-2025", "USD") if i % 4 else ("dk-ua-2025", "DKK")
        amount = 1 + (i * 7919) % 50_000_000
        batch.append(Transfer(
            f"bench:{i:09d}", agreement, ACCEPTANCE if i % 3 else PAYMENT, debit, credit,
            amount, currency, amount * 41, "UAH", START + dt.timedelta(days=i % 700),
            f"lot:L{i // 16}"))
    return batch


def _row(transfer: Transfer) -> tuple[Any, ...]:
    return (transfer.transfer_id, transfer.agreement_id, transfer.kind, transfer.debit_party,
            transfer.credit_party, transfer.amount, transfer.currency,
            transfer.original_amount, transfer.original_currency, transfer.event_date,
            transfer.reference, transfer.reverses)


def create_floor_table(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TABLE floor_transfer (transfer_id VARCHAR(128) PRIMARY KEY, "
            "agreement_id VARCHAR(64), kind VARCHAR(32), debit_party VARCHAR(64), "
            "credit_party VARCHAR(64), amount BIGINT, currency VARCHAR(3), "
            "original_amount BIGINT, original_currency VARCHAR(3), event_date DATE, "
            "reference VARCHAR(255), reverses VARCHAR(128))")


def floor_batch(engine: Engine, batch: list[Transfer]) -> float:
    """The same rows into the bare table by the plain bulk path, in one transaction."""
    columns = COLUMNS[:-1]  # the leaf index is the log's to give
    rows = [_row(t) for t in batch]
    start = time.perf_counter()
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            raw: Any = connection.connection.driver_connection
            with raw.cursor() as cursor, cursor.copy(
                    f"COPY floor_transfer ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            connection.exec_driver_sql(f"INSERT INTO floor_transfer VALUES ({marks})", rows)
    return time.perf_counter() - start


def hash_seconds(batch: list[Transfer]) -> float:
    """SHA-256 of the batch's leaf texts alone (RFC 6962 leaf hashes): verify's floor."""
    texts = [t.leaf_text().encode() for t in batch]
    start = time.perf_counter()
    merkle.leaf_hashes(texts)
    return time.perf_counter() - start


def post_batch(engine: Engine, batch: list[Transfer], signer: keys.Signer) -> float:
    currencies = {"ua-us-2025": "USD", "dk-ua-2025": "DKK"}
    start = time.perf_counter()
    with Session(engine) as session, session.begin():
        result = post_transfers(session, batch, signer, currencies=currencies)
    seconds = time.perf_counter() - start
    assert result.posted == len(batch)
    return seconds


def run(db: str, url: str, n: int, signer: keys.Signer) -> None:
    """Floor and posting batch by batch, interleaved, so that both meet the same disk,
    cache and neighbours: the ratio is what the machine's noise leaves alone."""
    engine = make_engine(url)
    create_schema(engine)
    create_floor_table(engine)
    floor = seconds = hash_floor = 0.0
    for low in range(0, n, BATCH):
        batch = make_batch(low, min(n, low + BATCH))
        floor += floor_batch(engine, batch)
        seconds += post_batch(engine, batch, signer)
        hash_floor += hash_seconds(batch)
    emit(bench="ledger.post", db=db, n=n, batch=BATCH, seconds=round(seconds, 3),
         per_s=round(n / seconds), floor_seconds=round(floor, 3),
         ratio=round(seconds / floor, 2))
    prove_and_verify(db, engine, n, signer, hash_floor=hash_floor)
    engine.dispose()


def prove_and_verify(db: str, engine: Engine, n: int, signer: keys.Signer, *, hash_floor: float,
                     proofs: int = 20_000) -> None:
    """Inclusion proofs of random transfer leaves (their text rendered from the row; the
    tile cache warm) and the full `audit verify` of the ledger's log, in this process and
    with a worker per core (`dronedeal audit verify` uses every core), against its floor:
    SHA-256 of the same leaf texts alone, already in memory."""
    for batch in PROOF_BATCHES:
        seconds = proof_seconds(engine, n, proofs, seed=11, batch=batch)
        emit(bench="ledger.proofs", db=db, n=n, proofs=proofs, batch=batch,
             seconds=round(seconds, 3), per_s=round(proofs / seconds))
    for workers in sorted({1, os.cpu_count() or 1}):
        with Session(engine) as session:
            start = time.perf_counter()
            report = audit.verify(session, signer.vkey(), workers=workers)
            verify_seconds = time.perf_counter() - start
        assert report.ok, report.problem
        emit(bench="ledger.verify", db=db, n=n, workers=workers,
             seconds=round(verify_seconds, 3), per_s=round(n / verify_seconds),
             floor_seconds=round(hash_floor, 3), ratio=round(verify_seconds / hash_floor, 2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="transfers to post")
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dronedeal-bench-") as folder:
        signer = keys.create_key(Path(folder) / "signing.key", "bench.dronedeal/log")
        run("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args.n, signer)
        if args.pg:
            with postgres_database(args.pg) as url:
                run("postgresql", url, args.n, signer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
