"""The Alembic revisions: they build exactly the models' schema, and each data step keeps
an existing log verifiable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.services.test_ledger import EXAMPLE, post

from dronedeal.services import audit, keys
from dronedeal.store import log
from dronedeal.store.base import Base
from dronedeal.store.db import make_engine
from dronedeal.store.schema import alembic_config, create_schema, head_revision, revision_of


@pytest.fixture
def bare(db_url: str) -> Iterator[Engine]:
    """An engine on an empty database (no revision applied)."""
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def upgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_revisions_build_the_models_schema(bare: Engine) -> None:
    create_schema(bare)
    assert revision_of(bare) == head_revision()
    with bare.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_revision_0002_drops_stored_transfer_texts_and_the_log_still_verifies(
    bare: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = keys.create_key(tmp_path / "signing.key", "dronedeal.test/log")
    upgrade(bare, "0001")
    with monkeypatch.context() as before_0002:
        before_0002.setattr(log, "_DERIVED", {})  # the code of 0001 stored every text
        post(bare, EXAMPLE, signer)
    with bare.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM log_leaf WHERE leaf IS NULL")
                                  ).scalar_one() == 0
    upgrade(bare, "head")
    with bare.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM log_leaf WHERE leaf IS NULL")
                                  ).scalar_one() == len(EXAMPLE)
    with Session(bare) as session:
        assert audit.verify(session, signer.vkey()).ok
        assert [entry["leaf"] for entry in audit.entries(session)] == [
            transfer.leaf_text() for transfer in EXAMPLE]
