"""Export licenses draw down: each refusal with its reason, bulk draws all-or-nothing,
retries recognised, and concurrent draw-downs that never pass the cap."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable, Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.compliance_seed import ensure_compliance_tables, product, seed

from dronedeal.core.licenses import Draw, DrawRefusal, Remaining
from dronedeal.core.records import License
from dronedeal.services.licenses import (
    DrawdownRefusedError,
    draw_down,
    draw_down_many,
    remaining,
)
from dronedeal.store import compliance as compliance_store
from dronedeal.store.compliance import LicenseDrawdownRow
from dronedeal.store.db import session_factory

LICENSE = License("lic-1", "UA", "ua-mfr-001", "us-dod", "prd-1", max_quantity=10,
                  max_value=10_000_00, currency="USD", valid_from=dt.date(2025, 9, 1),
                  valid_to=dt.date(2026, 12, 31))
OTHER = License("lic-2", "UA", "ua-mfr-001", "us-dod", "prd-2", 5, 5_000_00, "USD",
                dt.date(2025, 9, 1), dt.date(2026, 12, 31))
ON = dt.date(2026, 1, 15)
THREADS = 4


@pytest.fixture
def seeded(engine: Engine) -> Engine:
    ensure_compliance_tables(engine)
    with session_factory(engine)() as s, s.begin():
        seed(s, [product("prd-1"), product("prd-2")], [], licenses=[LICENSE, OTHER])
    return engine


@pytest.fixture
def session(seeded: Engine) -> Iterator[Session]:
    with session_factory(seeded)() as s, s.begin():
        yield s


def _draw(session: Session, **changes: object) -> Remaining:
    args: dict[str, object] = {
        "license_id": "lic-1", "product_id": "prd-1", "exporter_id": "ua-mfr-001",
        "end_user_id": "us-dod", "on": ON, "quantity": 2, "value_minor": 2_000_00,
        "reference": "lot-1"}
    args.update(changes)
    return draw_down(session, **args)  # type: ignore[arg-type]


def test_a_draw_reduces_what_is_left(session: Session) -> None:
    left = _draw(session)
    assert (left.quantity, left.value) == (8, 8_000_00)
    left = _draw(session, reference="lot-2", quantity=3, value_minor=1_500_00)
    assert (left.quantity, left.value) == (5, 6_500_00)
    [lic1, lic2] = remaining(session)
    assert lic1.as_json() | {"valid_from": "", "valid_to": ""} == {
        "license_id": "lic-1", "product_id": "prd-1", "exporter_id": "ua-mfr-001",
        "end_user_id": "us-dod", "currency": "USD", "valid_from": "", "valid_to": "",
        "max_quantity": 10, "drawn_quantity": 5, "remaining_quantity": 5,
        "max_value": "10000.00", "drawn_value": "3500.00", "remaining_value": "6500.00"}
    assert (lic2.quantity, lic2.value) == (5, 5_000_00)
    assert [r.license_id for r in remaining(session, product_id="prd-2")] == ["lic-2"]


@pytest.mark.parametrize(("changes", "reason", "sentence"), [
    ({"on": dt.date(2027, 1, 1)}, DrawRefusal.expired,
     "license lic-1 expired on 2026-12-31; the draw is dated 2027-01-01"),
    ({"on": dt.date(2025, 8, 31)}, DrawRefusal.not_yet_valid,
     "license lic-1 is not valid yet on 2025-08-31: it is valid from 2025-09-01 to 2026-12-31"),
    ({"product_id": "prd-2"}, DrawRefusal.wrong_product,
     "license lic-1 covers product prd-1, not prd-2"),
    ({"exporter_id": "ua-mfr-002"}, DrawRefusal.wrong_exporter,
     "license lic-1 is granted to exporter ua-mfr-001, not ua-mfr-002"),
    ({"end_user_id": "ua-mod"}, DrawRefusal.wrong_end_user,
     "license lic-1 names end user us-dod, not ua-mod"),
    ({"quantity": 11, "value_minor": 100}, DrawRefusal.quantity_exhausted,
     "license lic-1 has 10 of 10 units left; the draw lot-1 needs 11"),
    ({"quantity": 1, "value_minor": 10_000_01}, DrawRefusal.value_exhausted,
     "license lic-1 has 10000.00 of 10000.00 USD left; the draw lot-1 is worth 10000.01 USD"),
    ({"license_id": "lic-9"}, DrawRefusal.unknown_license,
     "no license 'lic-9' in the store; import it first"),
    ({"quantity": 0}, DrawRefusal.bad_amount, "a draw needs a positive quantity"),
])
def test_each_refusal_names_its_reason(session: Session, changes: dict[str, object],
                                       reason: DrawRefusal, sentence: str) -> None:
    with pytest.raises(DrawdownRefusedError) as refused:
        _draw(session, **changes)
    assert refused.value.reason is reason
    assert sentence in str(refused.value)
    assert session.scalar(select(func.count()).select_from(LicenseDrawdownRow)) == 0


def test_exhaustion_counts_earlier_draws(session: Session) -> None:
    _draw(session, quantity=8, value_minor=1_000_00)
    with pytest.raises(DrawdownRefusedError, match="has 2 of 10 units left"):
        _draw(session, reference="lot-2", quantity=3, value_minor=100)
    _draw(session, reference="lot-3", quantity=1, value_minor=9_000_00)
    with pytest.raises(DrawdownRefusedError) as refused:
        _draw(session, reference="lot-4", quantity=1, value_minor=1)
    assert refused.value.reason is DrawRefusal.value_exhausted
    assert "has 0.00 of 10000.00 USD left" in str(refused.value)


def test_the_same_draw_again_is_a_no_op_and_a_different_one_is_refused(
        session: Session) -> None:
    _draw(session)
    left = _draw(session)  # a retried import
    assert left.quantity == 8
    with pytest.raises(DrawdownRefusedError) as refused:
        _draw(session, quantity=3, value_minor=3_000_00)
    assert refused.value.reason is DrawRefusal.reference_conflict
    assert "already has draw lot-1 of 2 units" in str(refused.value)


def test_bulk_draws_are_judged_in_one_pass_and_land_all_or_nothing(session: Session) -> None:
    def draw(lic: License, n: int, reference: str, quantity: int = 2) -> Draw:
        return Draw(lic.license_id, lic.product_id, lic.exporter_id, lic.end_user_id, ON,
                    quantity, quantity * 100_00 + n, reference)

    good = [draw(LICENSE, i, f"lot-{i}") for i in range(4)] + [draw(OTHER, 0, "lot-x")]
    left = draw_down_many(session, good)
    assert (left["lic-1"].quantity, left["lic-2"].quantity) == (2, 3)
    # the fifth lot of lic-1 and a lot dated after expiry are refused together; nothing lands
    bad = [draw(LICENSE, 9, "lot-8", 1), draw(LICENSE, 9, "lot-9", 2),
           Draw("lic-2", "prd-2", "ua-mfr-001", "us-dod", dt.date(2027, 1, 2), 1, 1, "late")]
    with pytest.raises(DrawdownRefusedError) as refused:
        draw_down_many(session, bad)
    assert [(r.index, r.reason) for r in refused.value.refusals] == [
        (1, DrawRefusal.quantity_exhausted), (2, DrawRefusal.expired)]
    assert session.scalar(select(func.count()).select_from(LicenseDrawdownRow)) == 5


def test_concurrent_draw_downs_never_exceed_the_cap(
        seeded: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four threads, each in its own session and transaction, draw 1 unit at a time
    until refused; together they draw exactly the license's 10 units. Reading the
    drawn totals is slowed down so that, without the license lock, threads would read
    the same totals and over-draw."""
    read_totals = compliance_store.drawn_totals

    def slow_totals(session: Session, license_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
        totals = read_totals(session, license_ids)
        time.sleep(0.03)
        return totals

    monkeypatch.setattr(compliance_store, "drawn_totals", slow_totals)
    factory = session_factory(seeded)
    barrier = threading.Barrier(THREADS)
    granted: list[int] = [0] * THREADS
    reasons: list[DrawRefusal] = []
    failures: list[BaseException] = []

    def worker(slot: int) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(LICENSE.max_quantity + 1):
                try:
                    with factory() as s, s.begin():
                        _draw(s, reference=f"t{slot}-{n}", quantity=1, value_minor=1)
                    granted[slot] += 1
                except DrawdownRefusedError as refused:
                    reasons.append(refused.reason)
                    return
        except BaseException as error:  # surfaced to the test thread below
            failures.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert sum(granted) == 10
    assert reasons == [DrawRefusal.quantity_exhausted] * THREADS
    with factory() as s:
        drawn = s.scalar(select(func.sum(LicenseDrawdownRow.quantity)))
        assert drawn == 10
