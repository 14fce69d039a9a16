"""`unit_tally` (store/tallies.py) equals the unit rows it summarises: after any sequence
of imports (shipments and their inspections together or in later imports, re-imports
that change nothing), after the back-fill of revision 0003, and its model matches the
migration. On SQLite, or PostgreSQL with DRONEDEAL_TEST_DB.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import itertools
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, func, select, text
from sqlalchemy.orm import Session
from tests.services.test_position import (
    PROPERTY_SETTINGS,
    SCENARIO_EVENTS,
    SCENARIO_MASTER,
    deal_events,
    deal_master,
    deal_strategy,
    import_files,
)

import dronedeal.store.tables  # noqa: F401 (registers every table)
from dronedeal.services import keys
from dronedeal.store import tallies
from dronedeal.store.base import Base
from dronedeal.store.events import ShipmentRow
from dronedeal.store.schema import MIGRATIONS

_prefixes = itertools.count()


@pytest.fixture
def scenario(engine: Engine, tmp_path: Path, signer: keys.Signer) -> Engine:
    """The hand-computed deal of tests/services/test_position.py, imported."""
    import_files(engine, tmp_path, {**SCENARIO_MASTER, **SCENARIO_EVENTS}, signer)
    return engine


def _tally_is_the_count_of_its_units(engine: Engine) -> dict[tallies.TallyKey, int]:
    with Session(engine) as session:
        stored, recounted = tallies.stored(session), tallies.recount(session)
        per_order = dict(session.execute(select(ShipmentRow.order_id, func.count())
                                         .group_by(ShipmentRow.order_id)).all())
        tallied = tallies.shipped_per_order(session, [*per_order, "no-such-order"])
    assert stored == recounted
    assert tallied == per_order, "the units an order shipped, as the shipments import reads them"
    return stored


@PROPERTY_SETTINGS
@given(deal=deal_strategy, how=st.tuples(st.booleans(), st.booleans()))
def test_tally_equals_the_unit_rows_after_any_imports(
        engine: Engine, tmp_path: Path, signer: keys.Signer, deal: Any,
        how: tuple[bool, bool]) -> None:
    inspect_later, again = how
    lots, payments, deliveries, share = deal
    p = f"t{next(_prefixes)}"
    import_files(engine, tmp_path, deal_master(p, share), signer)
    files = deal_events(p, lots, payments, deliveries)
    for files_of_lot in files:
        if inspect_later and "inspections.csv" in files_of_lot:
            # the inspections of units an earlier import shipped
            import_files(engine, tmp_path, {"shipments.csv": files_of_lot["shipments.csv"]},
                         signer)
            import_files(engine, tmp_path,
                         {"inspections.csv": files_of_lot["inspections.csv"]}, signer)
        else:
            import_files(engine, tmp_path, files_of_lot, signer)
    before = _tally_is_the_count_of_its_units(engine)
    if again:  # importing the same events again changes nothing, the tally included
        for files_of_lot in files:
            import_files(engine, tmp_path, files_of_lot, signer)
        assert _tally_is_the_count_of_its_units(engine) == before


def test_the_scenario_tallies_every_event(scenario: Engine) -> None:
    stored = _tally_is_the_count_of_its_units(scenario)
    by_event = {event: sum(n for key, n in stored.items() if key[4] == event)
                for event in tallies.EVENTS}
    assert by_event == {"shipped": 23, "accepted": 19, "rejected": 4}
    assert stored[("L-1", "ua-mfr-001", "ord-0001", "prd-0001", "rejected",
                   dt.date(2025, 9, 15))] == 1


def _revision_0003() -> Any:
    path = next((MIGRATIONS / "versions").glob("0003_*.py"))
    spec = importlib.util.spec_from_file_location("revision_0003", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_revision_0003_backfills_the_tally_from_the_unit_rows(scenario: Engine) -> None:
    kept = _tally_is_the_count_of_its_units(scenario)
    assert kept
    with scenario.begin() as connection:
        connection.execute(delete(tallies.TALLY))
        for statement in _revision_0003().BACKFILL:
            connection.execute(text(statement))
    assert _tally_is_the_count_of_its_units(scenario) == kept


def test_the_tally_model_matches_its_migration(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata)
                       if "unit_tally" in repr(d)]
    assert differences == []


def test_units_of_one_key_imported_in_parts_add_up(engine: Engine, tmp_path: Path,
                                                   signer: keys.Signer) -> None:
    import_files(engine, tmp_path, SCENARIO_MASTER, signer)
    for table in ("shipments.csv", "inspections.csv"):
        header, *rows = SCENARIO_EVENTS[table].splitlines()
        for part in (rows[::2], rows[1::2]):  # every key's units split over two imports
            import_files(engine, tmp_path, {table: "\n".join([header, *part]) + "\n"}, signer)
    stored = _tally_is_the_count_of_its_units(engine)
    assert stored[("L-1", "ua-mfr-001", "ord-0001", "prd-0001", "shipped",
                   dt.date(2025, 9, 10))] == 6
    assert stored[("DK-1", "ua-mfr-002", "ord-dk-1", "prd-0005", "accepted",
                   dt.date(2025, 10, 6))] == 8
