"""The dashboard without a browser: the session cookie, offline assets, translations and
the SVG charts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.web.conftest import Demo

from dronedeal.api import create_app
from dronedeal.api.web import charts, session
from dronedeal.api.web.i18n import UK

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
    refused = client.post("/login", data={"token": "not-a-token"}, follow_redirects=False)
    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    response = client.post("/login", data={"token": demo.tokens["auditor"]},
                           follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE}=")
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert demo.tokens["auditor"] not in cookie  # encoded and signed, not echoed
    assert _who(client.get("/").text) == "auditor"
    client.post("/logout")
    assert _who(client.get("/").text) == "anonymous"


def test_a_tampered_cookie_is_no_login(client: TestClient, demo: Demo) -> None:
    client.cookies.clear()
    client.post("/login", data={"token": demo.tokens["admin"]}, follow_redirects=False)
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
    client.post("/login", data={"token": demo.tokens["admin"]}, follow_redirects=False)
    for path in PAGES:
        html = client.get(path).text
        for ref in re.findall(r'(?:src|href|action)="([^"]*)"', html):
            assert not re.match(r"(?i)(https?:)?//", ref), f"{path} links to {ref}"
            if ref.startswith("/static/"):
                assert client.get(ref).status_code == 200, ref
    client.cookies.clear()


def test_every_template_text_has_a_ukrainian_translation() -> None:
    texts = {m for path in TEMPLATES.glob("*.html")
             for m in re.findall(r'_\("([^"]+)"\)', path.read_text())}
    texts |= {"Log in to see this page.", "Your role may not see this page.",
              "Nothing here that you may see.", "The token is not valid."}
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
