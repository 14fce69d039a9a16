"""Benchmark the dashboard: server render time of each page, per role (SPEC §11).

    uv run python bench/dashboard.py [--scale small|large] [--runs 5] [--db URL --key PATH]

Builds the demo deal of `--scale` in a temporary SQLite database (or uses `--db` with
the signing key `--key`, e.g. a database `dronedeal demo` made), makes the demo users,
and requests every page in-process (no network, no browser): once on a fresh app
(`ms_cold`: nothing cached), then `--runs` times (`ms_median`, `ms_max`: the reports
come from the app's cache until the log grows). Prints one JSON line per (page, role).
The budget is SPEC §11's: the agreement page within 300 ms at 1M units.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from benchkit import emit
from dronedeal.api import create_app
from dronedeal.cli.demo import create_demo_users
from dronedeal.demo.generator import write_demo_pack
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.store.db import make_engine
from dronedeal.store.schema import create_schema

PAGES = ("/", "/agreements/ua-us-2025", "/audit", "/compliance", "/licenses", "/suppliers",
         "/lots", "/lots?serial=FR8-2025-000001", "/import")
ROLES = {"anonymous": None, "admin": "demo-admin", "manufacturer": "demo-manufacturer-1",
         "inspector": "demo-inspector"}


def build(folder: Path, scale: str) -> tuple[str, Path]:
    db_url = f"sqlite:///{folder / 'demo.db'}"
    key = folder / "signing.key"
    keys.create_key(key, "bench.dronedeal/demo")
    started = time.perf_counter()
    write_demo_pack(folder / "pack", scale=scale)
    engine = make_engine(db_url)
    create_schema(engine)
    with Session(engine) as session, session.begin():
        import_pack(session, folder / "pack", keys.load_signer(key))
    engine.dispose()
    emit(bench="dashboard", step="demo", scale=scale,
         seconds=round(time.perf_counter() - started, 2))
    return db_url, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("small", "large"), default="small")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db")
    parser.add_argument("--key", type=Path)
    parser.add_argument("--page", action="append", help="only this page (repeatable)")
    parser.add_argument("--role", action="append", choices=tuple(ROLES),
                        help="only this role (repeatable)")
    args = parser.parse_args()
    pages = args.page or PAGES
    roles = {r: u for r, u in ROLES.items() if not args.role or r in args.role}
    if (args.db is None) != (args.key is None):
        sys.exit("give --db and --key together")
    with tempfile.TemporaryDirectory(prefix="dronedeal-bench-dashboard-") as folder:
        db_url, key = (args.db, args.key) if args.db else build(Path(folder), args.scale)
        engine = make_engine(db_url)
        with Session(engine) as session, session.begin():
            tokens = create_demo_users(session)
        engine.dispose()
        for role, user in roles.items():
            for page in pages:
                with TestClient(create_app(db_url, key=key)) as client:
                    if user is not None:
                        client.post("/login", data={"token": tokens[user]},
                                    follow_redirects=False)
                    started = time.perf_counter()
                    client.get(page)
                    cold = (time.perf_counter() - started) * 1000
                    times = []
                    for _ in range(args.runs):
                        started = time.perf_counter()
                        response = client.get(page)
                        times.append((time.perf_counter() - started) * 1000)
                emit(bench="dashboard", page=page, role=role, status=response.status_code,
                     ms_cold=round(cold, 1), ms_median=round(statistics.median(times), 1),
                     ms_max=round(max(times), 1), bytes=len(response.content), runs=args.runs)


if __name__ == "__main__":
    main()
