"""The dashboard without a browser: the session cookie, offline assets, translations and
the SVG charts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session
from tests.web.conftest import Demo, csrf_of, log_in

from dronedeal.api import create_app
from dronedeal.api.web import charts, routes, session
from dronedeal.api.web.i18n import UK
from dronedeal.store import log
from dronedeal.store.db import make_engine

TEMPLATES = Path(__file__).resolve().parents[2] / "src/dronedeal/api/web/templates"
PAGES = ("/", "/agreements/ua-us-2025", "/audit", "/compliance", "/licenses", "/suppliers",
         "/lots", "/import", "/login")


@pytest.fixture(scope="module")
def client(demo: Demo) -> Iterator[TestClient]:
    with TestClient(create_app(demo.db_url, key=demo.key)) as client:
        yield client


def _who(html: str) -> str:
    found = re.search(r'id="who" data-role="([a-z]+)"', html)
    assert found is not None
    return found.group(1)


def test_login_sets_a_signed_httponly_lax_cookie(client: TestClient, demo: Demo) -> None:
    client.cookies.clear()
    refused = log_in(client, "not-a-token")
    assert refused.status_code == 401
    assert session.COOKIE not in refused.headers.get("set-cookie", "")
    response = log_in(client, demo.tokens["auditor"])
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert demo.tokens["auditor"] not in cookie  # encoded and signed, not echoed
    page = client.get("/").text
    assert _who(page) == "auditor"
    client.post("/logout", data={"csrf_token": csrf_of(page)})
    assert _who(client.get("/").text) == "anonymous"


def test_a_tampered_cookie_is_no_login(client: TestClient, demo: Demo) -> None:
    client.cookies.clear()
    log_in(client, demo.tokens["admin"])
    value = client.cookies[session.COOKIE]
    encoded, _, mac = value.partition(".")
    forged = session.sign(b"another secret", demo.tokens["admin"])
    client.cookies.clear()
    client.cookies.set(session.COOKIE, value)
    assert _who(client.get("/").text) == "admin"  # the jar replays a good cookie
    for bad in (f"{encoded}.{mac[:-2]}AA", forged, "garbage", f"{encoded}."):
        client.cookies.clear()
        client.cookies.set(session.COOKIE, bad)
        assert _who(client.get("/").text) == "anonymous", bad
        assert client.get("/compliance").status_code == 401
    client.cookies.clear()


def test_every_asset_is_served_by_the_app(client: TestClient, demo: Demo) -> None:
    client.cookies.clear()
    log_in(client, demo.tokens["admin"])
    for path in PAGES:
        html = client.get(path).text
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert not re.match(r"(?i)(https?:)?//", ref), f"{path} links to {ref}"
            if ref.startswith("/static/"):
                assert client.get(ref).status_code == 200, ref
    client.cookies.clear()


def test_every_template_text_has_a_ukrainian_translation() -> None:
    texts = {m for path in TEMPLATES.glob("*.html")
             for _, m in re.findall(r'_\((["\'])(.+?)\1\)', path.read_text())}
    texts |= {"Log in to see this page.", "Your role may not see this page.",
              "Nothing here that you may see.", "The token is not valid.", routes.FORGED}
    assert sorted(texts - UK.keys()) == []


def test_chart_labels_are_escaped_and_bars_scale() -> None:
    svg = str(charts.grouped_bars(["a<b"], [charts.Group("<script>", (10,)),
                                            charts.Group("m2", (5,))],
                                  table_id="t", title="T & U"))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "a&lt;b" in svg
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" '
                                            r'height="([\d.]+)"', svg)]
    assert heights[0] == pytest.approx(2 * heights[1])
    assert 'fill="#2f855a"' in str(charts.gauge(Decimal("0.9"), Decimal("0.8"), label="r"))
    assert 'fill="#c05621"' in str(charts.gauge(Decimal("0.7"), Decimal("0.8"), label="r"))
    assert 'fill="#c05621"' in str(charts.gauge(None, Decimal("0.8"), label="r"))


def _tree_size(demo: Demo) -> int:
    engine = make_engine(demo.db_url)
    try:
        with Session(engine) as db:
            return log.tree_size(db)
    finally:
        engine.dispose()


def _forged(response: Response) -> None:
    assert response.status_code == 403
    assert 'id="refused"' in response.text
    assert "did not come from this site" in response.text


def test_every_form_that_changes_something_carries_a_csrf_token(client: TestClient,
                                                                demo: Demo) -> None:
    client.cookies.clear()
    page = client.get("/login")
    assert session.CSRF_COOKIE in page.headers["set-cookie"]
    assert page.headers["cache-control"] == "no-store"  # no shared cache keeps a token
    assert 'name="csrf_token"' in page.text
    log_in(client, demo.tokens["admin"])
    for path in ("/", "/import"):
        html = client.get(path).text
        for form in re.findall(r'<form method="post".*?</form>', html, re.S):
            assert csrf_of(form) == csrf_of(html), (path, form)
    client.cookies.clear()


def test_a_forged_login_or_logout_is_refused(client: TestClient, demo: Demo) -> None:
    client.cookies.clear()
    client.get("/login")  # the visitor has a CSRF cookie, but the attacker's form has no token
    for data in ({"token": demo.tokens["admin"]},
                 {"token": demo.tokens["admin"], "csrf_token": "x" * 43},
                 {"token": demo.tokens["admin"], "csrf_token": ""}):
        forged = client.post("/login", data=data, follow_redirects=False)
        _forged(forged)
        assert session.COOKIE not in forged.headers.get("set-cookie", "")
        assert _who(client.get("/").text) == "anonymous"
    # a token taken from another visitor's page does not fit this visitor's cookie
    with TestClient(client.app) as other:
        theirs = csrf_of(other.get("/login").text)
    _forged(client.post("/login", data={"token": demo.tokens["admin"], "csrf_token": theirs},
                        follow_redirects=False))
    assert log_in(client, demo.tokens["admin"]).status_code == 303
    page = client.get("/").text
    _forged(client.post("/logout", follow_redirects=False))
    assert _who(client.get("/").text) == "admin"  # still signed in
    # the token of the page before logging in is stale once the session cookie changes
    stale = csrf_of(client.get("/login").text)
    assert stale == csrf_of(page)
    client.cookies.delete(session.COOKIE)
    _forged(client.post("/logout", data={"csrf_token": stale}, follow_redirects=False))
    client.cookies.clear()


PARTY = "party_id,name,kind,country\nzz-csrf-probe,CSRF probe office,other,UA\n"


def test_a_forged_import_lands_nothing_and_the_real_form_lands(client: TestClient,
                                                               demo: Demo) -> None:
    client.cookies.clear()
    log_in(client, demo.tokens["admin"])
    files = {"files": ("parties.csv", PARTY.encode(), "text/csv")}
    before = _tree_size(demo)
    _forged(client.post("/import", files=files))
    _forged(client.post("/import", files=files, data={"csrf_token": "A" * 43}))
    assert _tree_size(demo) == before
    form = csrf_of(client.get("/import").text)
    landed = client.post("/import", files=files, data={"csrf_token": form})
    assert landed.status_code == 200, landed.text
    assert 'id="summary"' in landed.text
    assert _tree_size(demo) > before
    client.cookies.clear()


def test_stacked_bars_stack_each_months_categories() -> None:
    series = [f"cat<{i}" for i in range(6)]
    svg = str(charts.stacked_bars(series, [charts.Group("m1", (3, 0, 1, 0, 0, 0)),
                                           charts.Group("m2", (2, 2, 0, 0, 0, 0))],
                                  table_id="t", title="T"))
    assert "cat&lt;5" in svg
    assert "cat<" not in svg
    bars = [(float(y), float(h)) for y, h in re.findall(
        r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#[0-9a-f]+">'
        r"<title>", svg)]
    assert len(bars) == 4  # zero segments are not drawn
    (y1, h1), (y2, h2), (y3, h3), (y4, h4) = bars
    assert h1 == pytest.approx(3 * h2)
    assert h3 == pytest.approx(h4)
    assert y2 + h2 == pytest.approx(y1)  # stacked
    assert y4 + h4 == pytest.approx(y3)
    assert h1 + h2 == pytest.approx(h3 + h4)  # both months hold 4 units: the same height
    # six categories take two legend lines: the picture grows to keep them
    assert f'viewBox="0 0 {charts.WIDTH} {charts.HEIGHT + charts.LEGEND_LINE + 4}"' in svg
