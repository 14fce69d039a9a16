"""Create or upgrade the schema. Until the first Alembic revision lands this uses the metadata."""

from __future__ import annotations

from sqlalchemy import Engine

from dronedeal.store.base import Base


def create_schema(engine: Engine) -> None:
    """Bring the database at `engine` to the current schema."""
    import dronedeal.store.tables  # noqa: F401  (registers the tables on Base.metadata)

    Base.metadata.create_all(engine)
