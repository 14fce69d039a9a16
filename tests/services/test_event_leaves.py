"""Event rows are the only copy of their log leaves' texts (derived leaf kinds).

A real import appends each event's canonical JSON; the log stores no text for it, and
the renderers of `store.events` give it back from the rows byte for byte, on SQLite and
PostgreSQL, including texts JSON has to escape.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session
from tests.packs import write_pack
from tests.services.test_deliveries import (
    CASES,
    DELIVERIES,
    MASTER,
    PAYMENTS,
    inspections,
    run,
    serials,
    shipments,
    vezha,
)
from tests.store.test_migrations import log_code_before_0005

from dronedeal.core.canonical import canonical_json
from dronedeal.services import audit, keys
from dronedeal.store import events, log
from dronedeal.store.db import make_engine
from dronedeal.store.schema import alembic_config

KINDS = ("shipment", "inspection", "case_line", "case_delivery", "payment")


@pytest.fixture
def appended(monkeypatch: pytest.MonkeyPatch) -> dict[int, tuple[str, str]]:
    """Every leaf appended from now on: index -> (kind, text) as the service hashed it."""
    leaves: dict[int, tuple[str, str]] = {}
    append = audit.append_leaves

    def recording(session: Session, batch: Sequence[tuple[str, str]],
                  signer: keys.Signer, **options: Any) -> audit.AppendResult:
        result = append(session, batch, signer, **options)
        leaves.update(zip(range(result.first_index, result.tree_size), batch, strict=True))
        return result

    monkeypatch.setattr(audit, "append_leaves", recording)
    return leaves


def _import_events(engine: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    run(engine, write_pack(tmp_path / "master", MASTER), signer)
    reasons = ['"Rotor ""B"" cracked — ß"', '"arm bent\nsee photo\\2"', "", ""]
    rows = [f"{serial},prd-0001,{'accepted' if not reason else 'rejected'},{reason},2025-10-05"
            for serial, reason in zip(serials(4), reasons, strict=True)]
    run(engine, write_pack(tmp_path / "events", {
        "cases.csv": CASES, "case_deliveries.csv": DELIVERIES, "payments.csv": PAYMENTS,
        "shipments.csv": shipments(vezha(4) + vezha(3, start=5, lot="LOT-B",
                                                     day="2025-10-02")),
        "inspections.csv": inspections(rows)}), signer)


def test_event_leaves_are_rendered_from_their_rows(
    engine: Engine, tmp_path: Path, signer: keys.Signer,
    appended: dict[int, tuple[str, str]],
) -> None:
    _import_events(engine, tmp_path, signer)
    events_logged = {index: leaf for index, leaf in appended.items() if leaf[0] in KINDS}
    assert {kind for kind, _ in events_logged.values()} == set(KINDS)
    first, last = min(events_logged), max(events_logged)
    with Session(engine) as session:
        rendered: dict[int, tuple[str, str]] = {}
        for kind in KINDS:
            derived = log.derived_kinds()[kind]
            texts = derived.render(session, first, last)
            assert derived.pick is not None
            assert derived.pick(session, list(texts)[::-2]) == {  # scattered, any order
                index: texts[index] for index in list(texts)[::-2]}
            rendered.update((index, (kind, leaf)) for index, leaf in texts.items())
        # the log keeps no text of its own for them, and serves the rendered one
        runs = session.execute(text("SELECT idx, kind, last_idx FROM log_leaf "
                                    "WHERE leaf IS NULL")).all()
        served = {index: log.leaf_text(session, index) for index in events_logged}
        assert log.leaf_texts(session, [*events_logged, first - 1]) == {
            index: leaf for index, (_, leaf) in events_logged.items()} | (
            {first - 1: log.leaf_text(session, first - 1)} if first else {})
        assert audit.verify(session, signer.verifier()).ok
    assert rendered == events_logged
    in_runs = {index: kind for first_index, kind, last_index in runs
               for index in range(first_index, last_index + 1)}
    assert {index: in_runs.get(index) for index in events_logged} == {
        index: kind for index, (kind, _) in events_logged.items()}
    assert served == {index: leaf for index, (_, leaf) in events_logged.items()}
    reasons = [leaf for kind, leaf in events_logged.values() if '"rejected"' in leaf]
    assert '"reason":"Rotor \\"B\\" cracked — ß"' in reasons[0]
    assert '"reason":"arm bent\\nsee photo\\\\2"' in reasons[1]


def test_manifest_rows_render_without_the_generic_encoder(
    engine: Engine, tmp_path: Path, signer: keys.Signer,
    appended: dict[int, tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shipments and inspections as imported write their texts directly (a million in a
    couple of seconds); only a reason goes through the encoder."""
    _import_events(engine, tmp_path, signer)
    encode = events.canonical_json

    def reasons_only(value: object) -> str:
        assert isinstance(value, str), "a whole document went through canonical_json"
        return encode(value)

    monkeypatch.setattr(events, "canonical_json", reasons_only)
    wanted = {index: leaf for index, (kind, leaf) in appended.items()
              if kind in {"shipment", "inspection"}}
    with Session(engine) as session:
        rendered = {**events.render_shipments(session, 0, max(wanted)),
                    **events.render_inspections(session, 0, max(wanted))}
    assert rendered == wanted


def test_a_range_renders_only_its_own_rows(
    engine: Engine, tmp_path: Path, signer: keys.Signer,
    appended: dict[int, tuple[str, str]],
) -> None:
    _import_events(engine, tmp_path, signer)
    ships = sorted(index for index, (kind, _) in appended.items() if kind == "shipment")
    with Session(engine) as session:
        middle = events.render_shipments(session, ships[2], ships[4])
        beyond = events.render_shipments(session, ships[-1] + 1, (1 << 63) - 1)
    assert middle == {index: appended[index][1] for index in ships[2:5]}
    assert beyond == {}


def test_rows_json_must_escape_render_as_their_canonical_form(
    engine: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    """Only tampering stores such ids, but the text rendered is still the row's
    canonical JSON (so the leaf hash check, not a lucky concatenation, decides)."""
    run(engine, write_pack(tmp_path / "master", MASTER), signer)
    day = dt.date(2025, 10, 1)
    with Session(engine) as session, session.begin():
        events.insert_shipments(session, [
            ("ua-mfr-001", "A1", "prd-0001", "LOT-1", "ord-0001", None, day),
            ("ua-mfr-001", 'A"2', "prd-0001", "LOT-1", "ord-0001", "lic-0001", day),
            ("ua-mfr-001", "A\\3\n", "prd-0001", 'LOT-"', "ord-0001", "lic-0001", day),
        ], first_leaf=900)
        events.insert_inspections(session, [
            ("ua-mfr-001", "A1", "prd-0001", "accepted", None, day),
            ("ua-mfr-001", 'A"2', "prd-0001", 'rej"', "x\ty", day),
        ], first_leaf=950)
    with Session(engine) as session:
        ships = events.render_shipments(session, 0, 999)
        checks = events.render_inspections(session, 0, 999)
        plain = events.render_shipments(session, 900, 900)
    expected_ships = [
        ("ua-mfr-001", "A1", "prd-0001", "LOT-1", "ord-0001", None, "2025-10-01"),
        ("ua-mfr-001", 'A"2', "prd-0001", "LOT-1", "ord-0001", "lic-0001", "2025-10-01"),
        ("ua-mfr-001", "A\\3\n", "prd-0001", 'LOT-"', "ord-0001", "lic-0001", "2025-10-01"),
    ]
    assert ships == {900 + i: canonical_json(events.shipment_document(row))
                     for i, row in enumerate(expected_ships)}
    assert plain == {900: canonical_json(events.shipment_document(expected_ships[0]))}
    assert '"license_id":null' in plain[900]
    assert checks == {
        950: canonical_json(events.inspection_document(
            ("ua-mfr-001", "A1", "prd-0001", "accepted", None, "2025-10-01"))),
        951: canonical_json(events.inspection_document(
            ("ua-mfr-001", 'A"2', "prd-0001", 'rej"', "x\ty", "2025-10-01"))),
    }


def test_revision_0004_drops_stored_event_texts_and_the_log_still_verifies(
    db_url: str, tmp_path: Path, signer: keys.Signer,
    appended: dict[int, tuple[str, str]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine(db_url)
    config = alembic_config()

    def upgrade(revision: str) -> None:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    try:
        upgrade("0003")
        with monkeypatch.context() as before_0004:  # the code of 0003 stored event texts
            log_code_before_0005(before_0004)
            before_0004.setattr(log, "_DERIVED", {
                kind: derived for kind, derived in log.derived_kinds().items()
                if kind not in KINDS})
            _import_events(engine, tmp_path, signer)
        kinds = ", ".join(f"'{kind}'" for kind in KINDS)
        count = text(f"SELECT count(*) FROM log_leaf WHERE kind IN ({kinds}) "
                     "AND leaf IS NOT NULL")
        with engine.connect() as connection:
            assert connection.execute(count).scalar_one() > 0
        upgrade("head")
        with engine.connect() as connection:
            assert connection.execute(count).scalar_one() == 0
        with Session(engine) as session:
            assert audit.verify(session, signer.verifier()).ok
            served = {entry["index"]: entry["leaf"] for entry in audit.entries(session)}
    finally:
        engine.dispose()
    assert {index: served[index] for index, (kind, _) in appended.items() if kind in KINDS} \
        == {index: leaf for index, (kind, leaf) in appended.items() if kind in KINDS}
