"""The request path of the reports under load: one connection per request, answers
cached per state of the log yet never stale, ETags on cached answers, and the caller
checked afresh on every request (a removed user is refused at once)."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from fastapi import Request
from sqlalchemy import Engine, delete, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from tests.api.conftest import Deal
from tests.packs import write_pack

from dronedeal.api.app import app_from_environment
from dronedeal.api.deps import snapshot
from dronedeal.cli.serve import log_config
from dronedeal.services import keys, users
from dronedeal.services.importer import import_pack
from dronedeal.store import log
from dronedeal.store.db import database_url
from dronedeal.store.users import UserRow

V1 = "/api/v1"
POSITION = f"{V1}/agreements/ua-us-2025/position?as_of=2025-12-31"
SETTLEMENT = f"{V1}/agreements/ua-us-2025/settlement?as_of=2025-12-31"


@contextmanager
def checkouts(deal: Deal) -> Iterator[list[int]]:
    """Count the connections the app takes from its pool while the block runs."""
    engine: Engine = deal.client.app.state.settings.engine  # type: ignore[attr-defined]
    seen: list[int] = []

    def counted(*_: Any) -> None:
        seen.append(1)

    event.listen(engine, "checkout", counted)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", counted)


def test_a_cached_report_costs_one_connection(deal: Deal) -> None:
    first = deal.client.get(POSITION, headers=deal.headers("auditor"))
    assert first.status_code == 200
    with checkouts(deal) as seen:
        again = deal.client.get(POSITION, headers=deal.headers("auditor"))
    assert again.status_code == 200
    assert again.content == first.content
    assert again.headers["etag"] == first.headers["etag"]
    assert len(seen) == 1


@pytest.mark.parametrize("path", [f"{V1}/orders", f"{V1}/users/me",
                                  f"{V1}/agreements/ua-us-2025"])
def test_a_request_finds_its_caller_in_its_own_session(deal: Deal, path: str) -> None:
    with checkouts(deal) as seen:
        response = deal.client.get(path, headers=deal.headers("admin"))
    assert response.status_code == 200
    assert len(seen) == 1


def test_a_cached_report_answers_304_to_its_etag(deal: Deal) -> None:
    for url in (POSITION, SETTLEMENT):
        first = deal.client.get(url, headers=deal.headers("auditor"))
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        tag = first.headers["etag"]
        for _ in range(2):  # the second answer comes from the cache
            again = deal.client.get(url, headers={**deal.headers("auditor"),
                                                  "If-None-Match": f'W/"x", {tag}'})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == tag
        other = deal.client.get(url, headers={**deal.headers("auditor"),
                                              "If-None-Match": '"stale"'})
        assert other.status_code == 200
        assert other.content == first.content


def test_a_removed_user_is_refused_even_on_a_cached_report(deal: Deal) -> None:
    assert deal.client.get(POSITION, headers=deal.headers("officer_us")).status_code == 200
    assert deal.client.get(POSITION, headers=deal.headers("officer_us")).status_code == 200
    with Session(deal.engine) as session, session.begin():
        session.execute(delete(UserRow).where(
            UserRow.token_hash == users.token_hash(deal.tokens["officer_us"])))
    refused = deal.client.get(POSITION, headers=deal.headers("officer_us"))
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert deal.client.get(f"{V1}/orders",
                           headers=deal.headers("officer_us")).status_code == 401


def test_the_cache_serves_each_caller_only_what_it_may_read(deal: Deal) -> None:
    for who in ("admin", "auditor", "officer_us"):
        assert deal.client.get(POSITION, headers=deal.headers(who)).status_code == 200
    # the report is cached now; the right to it is still the caller's own
    assert deal.client.get(POSITION, headers=deal.headers("officer_dk")).status_code == 404
    assert deal.client.get(POSITION,
                           headers=deal.headers("manufacturer_1")).status_code == 403
    assert deal.client.get(POSITION).status_code == 401
    wrong = deal.client.get(POSITION, headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    missing = f"{V1}/agreements/no-such/position"
    assert deal.client.get(missing, headers=deal.headers("auditor")).status_code == 404


def test_an_import_by_another_process_refreshes_the_report(deal: Deal, tmp_path: Path
                                                          ) -> None:
    before = deal.client.get(POSITION, headers=deal.headers("auditor"))
    assert before.status_code == 200
    paid_before = before.json()["flows"][0]["paid"]
    # a second engine on the same database stands for `dronedeal import` in its own process
    pack = write_pack(tmp_path / "more", {
        "payments.csv": "payment_id,agreement_id,payer_id,payee_id,amount,currency,"
                        "paid_on,reference\n"
                        "pay-9,ua-us-2025,us-dod,ua-mfr-001,2500.00,USD,2025-12-05,INV-9\n"})
    with Session(deal.engine) as session, session.begin():
        import_pack(session, pack, keys.load_signer(deal.key))
    after = deal.client.get(POSITION, headers=deal.headers("auditor"))
    assert after.status_code == 200
    assert after.json()["flows"][0]["paid"] != paid_before
    assert after.headers["etag"] != before.headers["etag"]
    stale = deal.client.get(POSITION, headers={**deal.headers("auditor"),
                                               "If-None-Match": before.headers["etag"]})
    assert stale.status_code == 200


def test_a_report_is_computed_in_one_state_of_the_log(deal: Deal, tmp_path: Path) -> None:
    request = cast(Request, SimpleNamespace(app=deal.client.app))
    pack = write_pack(tmp_path / "more", {
        "payments.csv": "payment_id,agreement_id,payer_id,payee_id,amount,currency,"
                        "paid_on,reference\n"
                        "pay-8,ua-us-2025,us-dod,ua-mfr-001,100.00,USD,2025-12-05,\n"})
    with snapshot(request) as connection, Session(bind=connection) as session:
        size = log.tree_size(session)
        # an import commits meanwhile (PostgreSQL's default READ COMMITTED would show it)
        with Session(deal.engine) as other, other.begin():
            import_pack(other, pack, keys.load_signer(deal.key))
        assert log.tree_size(session) == size
    with Session(deal.engine) as session:
        assert log.tree_size(session) > size


def test_the_caller_and_the_log_size_come_in_one_statement(deal: Deal) -> None:
    with Session(deal.engine) as session, session.begin():
        found = users.authenticate_at(session, deal.tokens["officer_us"])
        assert found is not None
        user, size = found
        assert size == log.tree_size(session) > 0
        assert user == users.authenticate(session, deal.tokens["officer_us"])
        assert user.country == "US"
        assert users.authenticate_at(session, "not-a-token") is None
        assert users.authenticate_at(session, "") is None
    # the cached reports' look-up: the same answer, in a statement of its own
    assert users.authenticate_now(deal.engine, deal.tokens["officer_us"]) == (user, size)
    assert users.authenticate_now(deal.engine, deal.tokens["auditor"]) is not None
    assert users.authenticate_now(deal.engine, "not-a-token") is None


def test_a_cached_report_is_in_the_access_log_with_its_caller(
        deal: Deal, caplog: pytest.LogCaptureFixture) -> None:
    deal.client.get(POSITION, headers=deal.headers("auditor"))
    with caplog.at_level(logging.INFO, logger="dronedeal.api.access"):
        deal.client.get(POSITION, headers={**deal.headers("auditor"), "X-Request-ID": "r-1"})
    line = next(json.loads(r.getMessage()) for r in caplog.records
                if r.name == "dronedeal.api.access")
    assert line["request_id"] == "r-1"
    assert line["user"].startswith("u-")
    assert line["status"] == 200


def test_workers_build_the_app_from_the_environment(
        deal: Deal, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONEDEAL_DB", db_url)
    monkeypatch.setenv("DRONEDEAL_KEY", str(deal.key))
    app = app_from_environment()
    settings = app.state.settings
    assert settings.key == deal.key
    assert settings.engine.url == make_url(database_url(db_url))
    settings.engine.dispose()
    config = log_config()
    assert config["loggers"]["dronedeal"]["handlers"] == ["bare"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_serve_with_two_workers_answers_and_logs(deal: Deal, db_url: str) -> None:
    port = _free_port()
    env = {**os.environ, "DRONEDEAL_DB": db_url, "DRONEDEAL_KEY": str(deal.key)}
    server = subprocess.Popen(
        [sys.executable, "-c", "from dronedeal.cli.main import main; main()", "serve",
         "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}{POSITION}"
    request = urllib.request.Request(url, headers={
        "Authorization": f"Bearer {deal.tokens['auditor']}", "X-Request-ID": "w-1"})
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    assert response.status == 200
                    assert json.loads(response.read())["agreement_id"] == "ua-us-2025"
                break
            except OSError:
                assert server.poll() is None, "dronedeal serve exited"
                assert time.monotonic() < deadline, "dronedeal serve did not come up"
                time.sleep(0.2)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert "Started parent process" in stderr
    logged = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(line["request_id"] == "w-1" and line["status"] == 200 for line in logged)
