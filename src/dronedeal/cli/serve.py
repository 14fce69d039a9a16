"""`dronedeal serve`: the REST API and the web dashboard under uvicorn, on
the database of `--db` and the signing key of `--key`.

`--workers N` runs N uvicorn worker processes on the one socket (the kernel hands each
new connection to one of them). Each worker builds its own app
(`dronedeal.api.app:app_from_environment`, from `DRONEDEAL_DB` and `DRONEDEAL_KEY`,
which this command sets from `--db` and `--key`) and keeps its own report cache, so
each computes a report once per state of the log. Every worker writes the JSON access
log to stderr.
"""

from __future__ import annotations

import copy
import os
from typing import Annotated, Any

import typer


def log_config() -> dict[str, Any]:
    """uvicorn's logging, plus dronedeal's loggers (the JSON access log, errors) as bare
    lines on stderr; applied in every worker process."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["bare"] = {"format": "%(message)s"}
    config["handlers"]["bare"] = {"formatter": "bare", "class": "logging.StreamHandler",
                                  "stream": "ext://sys.stderr"}
    config["loggers"]["dronedeal"] = {"handlers": ["bare"], "level": "INFO",
                                      "propagate": False}
    return config


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64,
        help="Worker processes (one per core is a good start).")] = 1,
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json) until interrupted."""
    import uvicorn

    obj = ctx.ensure_object(dict)
    # the workers are fresh processes: they find the database and key in the environment
    for name, value in (("DRONEDEAL_DB", obj.get("db")), ("DRONEDEAL_KEY", obj.get("key"))):
        if value is not None:
            os.environ[name] = str(value)
    uvicorn.run("dronedeal.api.app:app_from_environment", factory=True, host=host,
                port=port, workers=workers, access_log=False, log_level="info",
                log_config=log_config())
