"""The same pack imported into SQLite and into PostgreSQL gives identical results."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.dbdump import dump

from dronedeal.demo.generator import write_demo_pack
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.services.summary import deal_summary
from dronedeal.store.db import make_engine
from dronedeal.store.schema import create_schema

PG_URL = os.environ.get("DRONEDEAL_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture
def postgres() -> Iterator[Engine]:
    try:
        admin = make_engine(PG_URL, connect_args={"connect_timeout": 5})
        with admin.connect():
            pass
    except Exception as unreachable:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL unreachable: {unreachable}")
    schema = f"x_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        create_schema(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_demo_pack_gives_identical_results(postgres: Engine, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    write_demo_pack(pack, scale="small", seed=7)
    key = tmp_path / "signing.key"
    keys.create_key(key, "dronedeal.test/log")
    signer = keys.load_signer(key)
    sqlite = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    create_schema(sqlite)
    summaries = []
    for engine in (sqlite, postgres):
        with Session(engine) as session, session.begin():
            import_pack(session, pack, signer)
        with Session(engine) as session:
            summaries.append(deal_summary(session))
    assert summaries[0] == summaries[1]
    skip = frozenset({"recorded_at", "created_at", "evaluated_at"})  # wall-clock times
    sqlite_dump, postgres_dump = dump(sqlite, skip_columns=skip), dump(postgres, skip_columns=skip)
    assert sqlite_dump.keys() == postgres_dump.keys()
    for table in sqlite_dump:
        assert sqlite_dump[table] == postgres_dump[table], table
    sqlite.dispose()
