"""`dronedeal serve`: the REST API and the web dashboard under uvicorn, on
the database of `--db` and the signing key of `--key`."""

from __future__ import annotations

import logging
from typing import Annotated

import typer


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json) until interrupted."""
    import uvicorn

    from dronedeal.api import create_app

    obj = ctx.ensure_object(dict)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app = create_app(obj.get("db"), key=obj.get("key"))
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")
