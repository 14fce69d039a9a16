"""The Alembic revisions: they build exactly the models' schema, and each data step keeps
an existing log verifiable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tests.services.test_deliveries import inspections, shipments
from tests.services.test_ledger import EXAMPLE, post
from tests.services.test_manifest_reader import (
    checked_units,
    import_files,
    interleaved_lots,
    master,
)
from tests.verifying import verified

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


def log_code_before_0005(patch: pytest.MonkeyPatch) -> None:
    """Make the log write as its code did before revision 0005: a row per leaf (NULL text
    for a derived one), the tree size one past the highest index."""

    def one_row_per_leaf(session: Session, first_index: int,
                         leaves: Sequence[tuple[str, str]]) -> None:
        log._mark_appended(session)
        derived = log.derived_kinds()
        session.execute(insert(log.LEAF), [
            {"idx": index, "kind": kind, "leaf": None if kind in derived else leaf}
            for index, (kind, leaf) in enumerate(leaves, first_index)])

    patch.setattr(log, "insert_leaves", one_row_per_leaf)
    patch.setattr(log, "LAST_LEAF", select(func.max(log.LEAF.c.idx)))


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
        log_code_before_0005(before_0002)
        post(bare, EXAMPLE, signer)
    with bare.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM log_leaf WHERE leaf IS NULL")
                                  ).scalar_one() == 0
    upgrade(bare, "head")
    with bare.connect() as connection:  # 0002 dropped the texts, 0005 made them one run
        assert connection.execute(text("SELECT idx, kind, leaf, last_idx FROM log_leaf")
                                  ).all() == [(0, "transfer", None, len(EXAMPLE) - 1)]
    with Session(bare) as session:
        assert audit.verify(session, signer.vkey()).ok
        assert [entry["leaf"] for entry in audit.entries(session)] == [
            transfer.leaf_text() for transfer in EXAMPLE]


def test_revision_0005_folds_text_less_leaves_into_runs_and_the_log_still_verifies(
    bare: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = keys.create_key(tmp_path / "signing.key", "dronedeal.test/log")
    upgrade(bare, "0004")

    party = ("party", '{"kind":"party"}')
    with monkeypatch.context() as before_0005:
        log_code_before_0005(before_0005)
        with Session(bare) as session, session.begin():
            audit.append_leaves(session, [party], signer)
        post(bare, EXAMPLE[:3], signer)
        with Session(bare) as session, session.begin():
            audit.append_leaves(session, [party, party], signer)
        post(bare, EXAMPLE[3:], signer)
    upgrade(bare, "head")
    with bare.connect() as connection:
        rows = connection.execute(text("SELECT idx, kind, leaf IS NULL, last_idx FROM log_leaf "
                                       "ORDER BY idx")).all()
    assert [tuple(row) for row in rows] == [
        (0, "party", False, None), (1, "transfer", True, 3), (4, "party", False, None),
        (5, "party", False, None), (6, "transfer", True, 6)]
    with Session(bare) as session:
        assert log.tree_size(session) == 7
        assert audit.verify(session, signer.vkey()).ok
        texts = [party[1], *(t.leaf_text() for t in EXAMPLE[:3]), party[1], party[1],
                 EXAMPLE[3].leaf_text()]
        assert [entry["leaf"] for entry in audit.entries(session)] == texts
        assert [p["leaf"] for p in audit.inclusion_proofs(session, [6, 2, 0])] == [
            texts[6], texts[2], texts[0]]


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def unit_rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {table: [tuple(row) for row in connection.execute(text(
            f"SELECT * FROM {table} ORDER BY leaf_index"))] for table in ("shipment", "inspection")}


def test_revision_0007_keys_the_unit_tables_by_leaf_and_keeps_every_row_and_check(
    bare: Engine, tmp_path: Path
) -> None:
    signer = keys.create_key(tmp_path / "signing.key", "dronedeal.test/log")
    upgrade(bare, "0006")
    master(bare, tmp_path, signer)
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "shipments.csv").write_text(shipments(interleaved_lots()), encoding="utf-8")
    (folder / "inspections.csv").write_text(inspections(checked_units()), encoding="utf-8")
    import_files(bare, folder, signer, parallel=False)
    before = unit_rows(bare)
    assert len(before["shipment"]) == len(before["inspection"]) == 40

    upgrade(bare, "head")
    assert unit_rows(bare) == before
    with bare.connect() as connection:
        keys_of = {table: inspect(connection).get_pk_constraint(table)["constrained_columns"]
                   for table in ("shipment", "inspection")}
    assert keys_of == {"shipment": ["leaf_index"], "inspection": ["leaf_index"]}
    assert verified(bare, signer.vkey()).ok
    # a serial is still unique per manufacturer, and an inspection still needs its shipment
    serial = before["shipment"][0][1]
    for statement in (
            f"INSERT INTO shipment SELECT manufacturer_id, serial, product_id, lot_id, order_id, "
            f"license_id, shipped_on, 10000 FROM shipment WHERE serial = '{serial}'",
            f"INSERT INTO inspection SELECT manufacturer_id, 'no-such-serial', product_id, "
            f"result, reason, inspected_on, 10001 FROM inspection WHERE serial = '{serial}'"):
        with pytest.raises(IntegrityError), bare.begin() as connection:
            connection.execute(text(statement))
    assert unit_rows(bare) == before

    downgrade(bare, "0006")
    assert unit_rows(bare) == before
    with bare.connect() as connection:
        assert inspect(connection).get_pk_constraint("shipment")["constrained_columns"] == [
            "manufacturer_id", "serial"]
    upgrade(bare, "head")
    assert unit_rows(bare) == before
