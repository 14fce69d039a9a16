"""HTTP conventions: problem+json everywhere, cursors, ETags, request ids and the access
log, CSV formula neutralisation, and the `users add` command."""

from __future__ import annotations

import json
import logging
from typing import Annotated

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import Deal
from typer.testing import CliRunner

from dronedeal.api import create_app
from dronedeal.cli.users import users_app
from dronedeal.core.csvsafe import csv_text, neutralise
from dronedeal.services import summary, users

V1 = "/api/v1"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/api/v1/no-such-thing", 404),
    ("DELETE", "/api/v1/orders", 405),
    ("GET", "/api/v1/orders?limit=0", 422),
    ("GET", "/api/v1/orders?cursor=not-a-cursor", 400),
    ("GET", "/api/v1/audit/proofs/inclusion?leaf=99999", 400),
    ("GET", "/api/v1/agreements/nope/position", 404),
])
def test_every_error_is_problem_json(deal: Deal, method: str, path: str, status: int) -> None:
    response = deal.client.request(method, path, headers=deal.headers("admin"))
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["title"]


def test_an_unexpected_error_is_a_500_without_a_trace(
        deal: Deal, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(summary, "deal_summary", broken)
    with TestClient(create_app(db_url, key=deal.key), raise_server_exceptions=False) as client:
        response = client.get(f"{V1}/summary", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert "req-42" in response.json()["detail"]


def test_pages_walk_a_list_with_an_opaque_cursor(deal: Deal) -> None:
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        body = deal.client.get(f"{V1}/parties", params=params,
                               headers=deal.headers("admin")).json()
        seen.extend(p["party_id"] for p in body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 7


def test_a_report_answers_304_to_its_own_etag(deal: Deal) -> None:
    url = f"{V1}/agreements/ua-us-2025/position?as_of=2025-12-31"
    first = deal.client.get(url, headers=deal.headers("auditor"))
    assert first.status_code == 200
    tag = first.headers["etag"]
    again = deal.client.get(url, headers={**deal.headers("auditor"), "If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert first.json()["flows"][0]["accepted"] == {"units": 2, "value": "8400.00"}


def test_the_public_ocds_package_is_stable_and_cacheable(deal: Deal) -> None:
    url = f"{V1}/ocds/ua-us-2025?audience=public"
    first = deal.client.get(url)
    assert first.status_code == 200
    assert "Vezha" not in first.text  # manufacturers are pseudonymised for the public
    again = deal.client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304


def test_every_response_echoes_the_request_id_and_is_logged(
        deal: Deal, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="dronedeal.api.access"):
        response = deal.client.get(f"{V1}/orders", headers={
            **deal.headers("manufacturer_1"), "X-Request-ID": "abc-123"})
        fresh = deal.client.get(f"{V1}/summary")
    assert response.headers["x-request-id"] == "abc-123"
    assert len(fresh.headers["x-request-id"]) == 32
    lines = [json.loads(r.getMessage()) for r in caplog.records
             if r.name == "dronedeal.api.access"]
    first = next(line for line in lines if line["request_id"] == "abc-123")
    assert first["path"] == f"{V1}/orders"
    assert first["status"] == 200
    assert first["user"].startswith("u-")


def test_allocation_as_csv_neutralises_formulas(deal: Deal) -> None:
    demand = ("demand_id,flow_id,category,quantity,due_on,max_unit_price,currency\n"
              "d-1,drones-to-us,uas.interceptor,10,2026-03-31,,\n")
    response = deal.client.post(
        f"{V1}/agreements/ua-us-2025/allocations",
        params={"flow_id": "drones-to-us", "on": "2025-10-01", "format": "csv"},
        content=demand, headers={**deal.headers("officer_us"), "Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.text.startswith("order_id,agreement_id,flow_id,")
    as_json = deal.client.post(
        f"{V1}/agreements/ua-us-2025/allocations",
        params={"flow_id": "drones-to-us", "on": "2025-10-01"},
        content=demand, headers={**deal.headers("officer_us"), "Content-Type": "text/csv"})
    assert as_json.json()["agreement_id"] == "ua-us-2025"
    assert {"orders", "unmet", "total_cost"} <= as_json.json().keys()


def test_the_ledger_exports_stream_as_the_cli_writes_them(deal: Deal) -> None:
    jsonl = deal.client.get(f"{V1}/ledger/export", headers=deal.headers("auditor"))
    assert jsonl.status_code == 200
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    paged = deal.client.get(f"{V1}/ledger/transfers", params={"limit": 500},
                            headers=deal.headers("auditor")).json()["items"]
    assert lines == paged
    beancount = deal.client.get(f"{V1}/ledger/export", params={"format": "beancount"},
                                headers=deal.headers("auditor"))
    assert " open " in beancount.text
    officer = deal.client.get(f"{V1}/ledger/export", headers=deal.headers("officer_us"))
    assert officer.status_code == 422


@pytest.mark.parametrize(("cell", "shown"), [
    ("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@cmd", "'@cmd"),
    ("plain", "plain"), (None, ""), (42, "42"),
])
def test_csv_cells_that_look_like_formulas_are_neutralised(cell: object, shown: str) -> None:
    assert neutralise(cell) == shown


def test_csv_text_neutralises_every_cell() -> None:
    assert csv_text(["a", "b"], [["=1+1", "ok"]]) == "a,b\n'=1+1,ok\n"


def users_cli() -> typer.Typer:
    """`dronedeal users` behind the global `--db` option, as `cli.main` mounts it."""
    app = typer.Typer()

    @app.callback()
    def options(ctx: typer.Context, db: Annotated[str, typer.Option("--db")]) -> None:
        ctx.obj = {"db": db}

    app.add_typer(users_app, name="users")
    return app


def test_users_add_prints_the_token_alone_on_the_last_line(
        engine: Engine, db_url: str) -> None:
    cli = users_cli()
    result = CliRunner().invoke(cli, ["--db", db_url, "users", "add", "--name", "Mykola",
                                      "--role", "auditor"])
    assert result.exit_code == 0, result.output
    token = result.stdout.rstrip("\n").splitlines()[-1]
    assert len(token) >= 40
    assert " " not in token
    from dronedeal.store.db import make_engine, session_factory

    other = make_engine(db_url)
    with session_factory(other)() as session:
        user = users.authenticate(session, token)
    other.dispose()
    assert user is not None
    assert user.role == "auditor"
    assert user.name == "Mykola"
    refused = CliRunner().invoke(cli, ["--db", db_url, "users", "add", "--name", "X",
                                       "--role", "officer"])
    assert refused.exit_code == 2
    assert "--party" in refused.stderr
