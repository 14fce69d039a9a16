"""Test fixtures: every store test runs against the database named by DRONEDEAL_TEST_DB.

`sqlite` (the default) gives each test a fresh SQLite file; a `postgresql://` URL gives
each test its own PostgreSQL schema, dropped afterwards. CI runs the suite once each way.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine

from dronedeal.services import keys
from dronedeal.services.keys import Signer
from dronedeal.store.db import make_engine, scratch_schema

# No property test has a time limit: on a shared 2-core machine an example can take longer
# than Hypothesis's default 200 ms, and speed is measured by bench/, not by tests.
settings.register_profile("dronedeal", deadline=None)
settings.load_profile("dronedeal")

TEST_DB = os.environ.get("DRONEDEAL_TEST_DB", "sqlite")
SHARED = Path(__file__).resolve().parents[2] / "shared"


def shared_data(*parts: str) -> Path:
    """A file under ../shared/data (the OCDS schema, the RFC 6962 vectors)."""
    candidates = [SHARED / "data", Path(os.environ.get("DRONEDEAL_SHARED", "")) / "data"]
    for base in candidates:
        path = base.joinpath(*parts)
        if path.exists():
            return path
    raise FileNotFoundError(f"../shared/data/{'/'.join(parts)} not found next to the checkout")


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A database URL of the kind under test, empty, removed after the test."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    with scratch_schema(TEST_DB, "t_") as url:
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with the whole schema created."""
    from dronedeal.store.schema import create_schema

    eng = make_engine(db_url)
    create_schema(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    """A fresh checkpoint signing key (origin `dronedeal.test/log`), loaded from disk."""
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    return keys.load_signer(path)
