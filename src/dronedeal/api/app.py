"""The application factory: `create_app(database_url)` → a FastAPI app serving SPEC §8.

The app owns one engine (the URL from the argument, `DRONEDEAL_DB`, or the SQLite
default) and the path of the checkpoint signing key (`DRONEDEAL_KEY` or the default);
routes get sessions from `api.deps`. The OpenAPI document is at `/openapi.json`; every
error is problem+json (`api.problems`); every response carries `X-Request-ID` and every
request is logged as one JSON line (`api.middleware`).
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

from fastapi import FastAPI

from dronedeal.api import problems
from dronedeal.api.cache import Figures
from dronedeal.api.deps import Settings
from dronedeal.api.middleware import RequestPlumbing
from dronedeal.api.routers import audit, catalog, imports, reports, users
from dronedeal.api.web import install as install_dashboard
from dronedeal.services import keys
from dronedeal.store.db import make_engine, read_only, session_factory

PREFIX: Final = "/api/v1"
DEFAULT_MAX_UPLOAD_MB: Final = 200


def max_upload_bytes() -> int:
    """`DRONEDEAL_MAX_UPLOAD_MB` (default 200) in bytes."""
    text = os.environ.get("DRONEDEAL_MAX_UPLOAD_MB") or str(DEFAULT_MAX_UPLOAD_MB)
    try:
        megabytes = float(text)
    except ValueError:
        raise ValueError(f"DRONEDEAL_MAX_UPLOAD_MB={text!r} is not a number of megabytes"
                         ) from None
    if not megabytes > 0:
        raise ValueError("DRONEDEAL_MAX_UPLOAD_MB must be above 0")
    return int(megabytes * 1024 * 1024)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # What exists at start-up (modules, table metadata, compiled templates, locale data:
    # ~150k objects) lives as long as the process. Frozen, the collector no longer walks
    # it on every full collection, which a large report's thousands of rows trigger:
    # ~100 ms of a cold agreement page on the large demo. Garbage is collected first, so
    # nothing dead is kept.
    gc.collect()
    gc.freeze()
    yield
    app.state.settings.engine.dispose()


def create_app(database_url: str | None = None, *, key: str | Path | None = None,
               max_upload_mb: float | None = None) -> FastAPI:
    """The REST API on the database at `database_url` (see `store.db.database_url`),
    signing checkpoints of imports with the key at `key` (see `services.keys.key_path`)."""
    engine = make_engine(database_url)
    limit = (int(max_upload_mb * 1024 * 1024) if max_upload_mb is not None
             else max_upload_bytes())
    app = FastAPI(
        title="dronedeal",
        version="1",
        summary="A reciprocal drone deal, end to end: catalog, compliance, orders, "
                "deliveries, ledger and a verifiable public record.",
        openapi_url="/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=_lifespan,
    )
    reader_engine = read_only(engine)
    app.state.settings = Settings(
        engine=engine, reader_engine=reader_engine, writers=session_factory(engine),
        readers=session_factory(reader_engine), key=keys.key_path(key),
        max_upload_bytes=limit)
    app.state.figures = Figures()
    problems.install(app)
    app.add_middleware(RequestPlumbing, max_body=limit)
    # the reports first: routes are tried in order, and they take the load
    for router in (reports.router, catalog.router, audit.router, imports.router,
                   users.router):
        app.include_router(router, prefix=PREFIX, responses=problems.COMMON_RESPONSES)
    install_dashboard(app)
    return app


def app_from_environment() -> FastAPI:
    """The app on `DRONEDEAL_DB` and `DRONEDEAL_KEY` (else the defaults): the factory
    each `dronedeal serve` worker process calls."""
    return create_app()
