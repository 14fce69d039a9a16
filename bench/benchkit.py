"""What every benchmark shares: JSON-line output and throw-away databases.

Benchmarks run as scripts (`uv run python bench/NAME.py`), so this module is imported
by its plain name from the bench folder.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import text

from dronedeal.store.db import make_engine


def emit(**figures: Any) -> None:
    """One figure set as one JSON line on stdout."""
    print(json.dumps(figures), flush=True)


@contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    """A SQLite file in `folder` (the caller's temporary folder removes it)."""
    yield f"sqlite:///{folder / 'bench.db'}"


@contextmanager
def postgres_database(url: str) -> Iterator[str]:
    """A fresh schema on the PostgreSQL at `url`, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
