"""What every command shares: the database from `--db`, sessions, error output, exit codes.

Exit codes (SPEC §7): 0 success; 1 the data was refused or a check failed; 2 usage.
Row errors go to stderr as `FILE:ROW: COLUMN: message`, at most 100 lines and then
the total; with `--format json` they go to stdout as one JSON document.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dronedeal.core.errors import MAX_REPORTED_ERRORS, RowError
from dronedeal.store.db import make_engine, read_only, session_factory

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def engine_of(ctx: typer.Context) -> Engine:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "engine" not in obj:
        obj["engine"] = make_engine(obj.get("db"))
        ctx.call_on_close(obj["engine"].dispose)
    engine: Engine = obj["engine"]
    return engine


@contextmanager
def transaction(ctx: typer.Context) -> Iterator[Session]:
    """One session in one transaction: committed on success, rolled back on any error."""
    with session_factory(engine_of(ctx))() as session, session.begin():
        yield session


@contextmanager
def reading(ctx: typer.Context) -> Iterator[Session]:
    """A session for commands that only read: on SQLite it takes no write lock."""
    with session_factory(read_only(engine_of(ctx)))() as session, session.begin():
        yield session


def report_errors(
    errors: list[RowError], output: OutputFormat, *, outcome: str = "nothing was imported"
) -> None:
    """Print row errors the way SPEC §7 asks (then what did not happen), and exit 1."""
    if output is OutputFormat.json:
        print(json.dumps({"errors": [e.as_json() for e in errors], "total": len(errors)},
                         ensure_ascii=False, indent=2))
    else:
        for error in errors[:MAX_REPORTED_ERRORS]:
            print(error, file=sys.stderr)
        if len(errors) > MAX_REPORTED_ERRORS:
            print(f"… {len(errors) - MAX_REPORTED_ERRORS} more; {len(errors)} errors in total",
                  file=sys.stderr)
        else:
            print(f"{len(errors)} error(s); {outcome}", file=sys.stderr)
    raise typer.Exit(EXIT_REFUSED)


def fail(message: str, code: int = EXIT_REFUSED) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)
