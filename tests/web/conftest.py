"""The dashboard on the small demo, served by uvicorn on 127.0.0.1 (a free port), and one
Chromium for the whole session with one page per person, reused across tests.

The browser is Debian's `/usr/bin/chromium` (never a downloaded one). Where it is
missing the browser tests skip, except under `CI=true`, where they fail.
Screenshots go to `test-artifacts/screenshots/` (a folder that ignores itself in git).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy.orm import Session
from tests.api.conftest import deal, signing_key  # noqa: F401 (fixtures: officers' scopes)
from tests.conftest import TEST_DB

from dronedeal.api import create_app
from dronedeal.cli.demo import DEMO_USERS, create_demo_users
from dronedeal.demo.generator import write_demo_pack
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.store.db import make_engine, scratch_schema
from dronedeal.store.schema import create_schema

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
#: who is who in the tests -> the demo user's name
PEOPLE = {"admin": "demo-admin", "auditor": "demo-auditor",
          "manufacturer_1": "demo-manufacturer-1", "manufacturer_2": "demo-manufacturer-2",
          "inspector": "demo-inspector"}


CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = CSRF_INPUT.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def log_in(client: TestClient, token: str) -> Response:
    """Log in through the login form, as a browser does (its CSRF token included)."""
    form = csrf_of(client.get("/login").text)
    return client.post("/login", data={"token": token, "csrf_token": form},
                       follow_redirects=False)


@dataclass
class Demo:
    """The running dashboard on the small demo: its URL, database and users' tokens."""

    url: str
    db_url: str
    tokens: dict[str, str]
    key: Path
    pages: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _database(folder: Path) -> Iterator[str]:
    """A database of the kind under test (`DRONEDEAL_TEST_DB`) for the whole session."""
    if TEST_DB == "sqlite":
        yield f"sqlite:///{folder / 'demo.db'}"
        return
    with scratch_schema(TEST_DB, "web_") as url:
        yield url


def _build(folder: Path, db_url: str) -> tuple[Path, dict[str, str]]:
    key = folder / "signing.key"
    keys.create_key(key, "dronedeal.test/demo")
    write_demo_pack(folder / "pack", scale="small")
    engine = make_engine(db_url)
    try:
        create_schema(engine)
        with Session(engine) as session, session.begin():
            import_pack(session, folder / "pack", keys.load_signer(key))
        with Session(engine) as session, session.begin():
            made = create_demo_users(session)
    finally:
        engine.dispose()
    return key, {who: made[name] for who, name in PEOPLE.items()}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The small demo behind a uvicorn server in a thread, on a socket bound here."""
    assert set(PEOPLE.values()) <= set(DEMO_USERS)
    folder = tmp_path_factory.mktemp("dashboard")
    with _database(folder) as db_url:
        yield from _serve(db_url, *_build(folder, db_url))


def _serve(db_url: str, key: Path, tokens: dict[str, str]) -> Iterator[Demo]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(db_url, key=key), log_level="warning",
                                          access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard server did not start in 30 s"
        assert thread.is_alive(), "the dashboard server stopped while starting"
        time.sleep(0.05)
    try:
        yield Demo(f"http://127.0.0.1:{port}", db_url, tokens, key)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the session."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Person:
    """One person's browser page (its own cookies), logged in or public."""

    who: str
    page: Any
    base: str

    def open(self, path: str) -> Any:
        """Go to `path`; the HTTP response."""
        return self.page.goto(self.base + path)

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        ignore = SCREENSHOTS.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        self.page.screenshot(path=str(SCREENSHOTS / f"{self.who}-{name}.png"), full_page=True)

    def figures(self, scope: str, name: str) -> list[str]:
        """The exact values of `[data-figure=name]` under the CSS selector `scope`."""
        values: list[str] = self.page.eval_on_selector_all(
            f"{scope} [data-figure='{name}']", "els => els.map(e => e.dataset.value)")
        return values


@pytest.fixture(scope="session")
def people(browser: Any, demo: Demo) -> Iterator[dict[str, Person]]:
    """A page per person (and the public), logged in through the login form once."""
    contexts = []
    out: dict[str, Person] = {}
    for who in ("anonymous", *PEOPLE):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        person = Person(who, context.new_page(), demo.url)
        if who != "anonymous":
            person.open("/login")
            person.page.fill("#token", demo.tokens[who])
            person.page.click("form[action='/login'] button")
            person.page.wait_for_url(demo.url + "/")
        out[who] = person
    try:
        yield out
    finally:
        for context in contexts:
            context.close()

