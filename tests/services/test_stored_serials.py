"""Looking stored serials up: one range scan when the serials asked for run together,
`IN` lists when they are scattered among many others; the same answer either way."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.packs import write_pack
from tests.services.test_deliveries import MASTER, run

from dronedeal.services import keys
from dronedeal.store import events

DAY = dt.date(2025, 10, 1)


@pytest.fixture
def stored(engine: Engine, tmp_path: Path) -> Engine:
    """Serials S0000, S0002, … S1998 of ua-mfr-001 stored (1,000 shipments)."""
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    run(engine, write_pack(tmp_path / "master", MASTER), keys.load_signer(path))
    with Session(engine) as session, session.begin():
        events.insert_shipments(session, [
            ("ua-mfr-001", f"S{n:04d}", "prd-0001", "LOT-A", "ord-0001", "lic-0001", DAY)
            for n in range(0, 2000, 2)], first_leaf=10_000)
    return engine


@pytest.mark.parametrize("asked", [
    [f"S{n:04d}" for n in range(100, 400)],                  # a run: one range scan
    [f"S{n:04d}" for n in range(99, 400)],                   # a run with gaps
    ["S0001", "S0002", "S1000", "S1997", "S1998", "S9999"],  # scattered: IN lists
    ["S0500"],
])
def test_stored_shipments_of_the_serials_asked_for(stored: Engine, asked: list[str]) -> None:
    with Session(stored) as session:
        found = events.shipments_of(session, "ua-mfr-001", asked)
        other_maker = events.shipments_of(session, "ua-mfr-002", asked)
        lots = events.shipped_lots_of(session, "ua-mfr-001", asked)
        other_lots = events.shipped_lots_of(session, "ua-mfr-002", asked)
    expected = {s: ("prd-0001", "LOT-A", "ord-0001", "lic-0001", DAY)
                for s in asked if s[1:].isdigit() and int(s[1:]) % 2 == 0 and int(s[1:]) < 2000}
    assert found == expected
    assert other_maker == {}
    # the inspection import's lighter twin: the same units, without the license
    assert lots == {s: (product, lot, order, day)
                    for s, (product, lot, order, _license, day) in expected.items()}
    assert other_lots == {}
