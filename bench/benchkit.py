"""What every benchmark shares: JSON-line output and throw-away databases.

Benchmarks run as scripts (`uv run python bench/NAME.py`), so this module is imported
by its plain name from the bench folder.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dronedeal.services import audit
from dronedeal.store.db import scratch_schema

#: proofs per request timed: one at a time (the API's and `audit prove --leaf`'s), and an
#: auditor's sample of a thousand (`audit prove --sample 1000`)
PROOF_BATCHES = (1, 1000)


def emit(**figures: Any) -> None:
    """One figure set as one JSON line on stdout."""
    print(json.dumps(figures), flush=True)


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    """A SQLite file in `folder` (the caller's temporary folder removes it)."""
    yield f"sqlite:///{folder / 'bench.db'}"


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL at `url`, dropped afterwards."""
    with scratch_schema(url, "bench_") as scratch:
        yield scratch


def proof_seconds(engine: Engine, n: int, proofs: int, seed: int, batch: int = 1) -> float:
    """Seconds to serve `proofs` inclusion proofs of random leaves of a log of `n`,
    leaf text included, the tile cache warmed first (every tile touched once): one
    request per proof, or (`batch` > 1) `audit.inclusion_proofs` of that many at once,
    as `dronedeal audit prove --sample` asks for an auditor's sample."""
    rng = random.Random(seed)
    with Session(engine) as session:
        for index in range(0, n, 256):
            audit.inclusion_proof(session, index)
        picks = [rng.randrange(n) for _ in range(proofs)]
        start = time.perf_counter()
        if batch == 1:
            for index in picks:
                audit.inclusion_proof(session, index)
        else:
            for first in range(0, proofs, batch):
                audit.inclusion_proofs(session, picks[first : first + batch])
        return time.perf_counter() - start
