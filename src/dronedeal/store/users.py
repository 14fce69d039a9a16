"""API users: who may call the REST API, in which role, on behalf of which party.

A user's bearer token is never stored: only the SHA-256 of it (tokens are 32 random
bytes, so a fast hash is as safe as a slow one and lets a request find its user by
one indexed look-up). `token_hash` is unique; `party_id` names the state (officer),
manufacturer, or buyer (inspector) the user acts for, and is NULL for admins and
auditors.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Row,
    String,
    Text,
    bindparam,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.store.base import Base, ident
from dronedeal.store.log import LAST_LEAF
from dronedeal.store.master import PartyRow


class UserRow(Base):
    __tablename__ = "api_user"
    user_id: Mapped[str] = mapped_column(ident(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    #: admin | officer | manufacturer | inspector | auditor
    role: Mapped[str] = mapped_column(String(16))
    party_id: Mapped[str | None] = mapped_column(ForeignKey("party.party_id"))
    #: hex SHA-256 of the bearer token
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


def insert_user(session: Session, *, user_id: str, name: str, role: str,
                party_id: str | None, token_hash: str, created_at: dt.datetime) -> None:
    session.execute(insert(UserRow).values(
        user_id=user_id, name=name, role=role, party_id=party_id, token_hash=token_hash,
        created_at=created_at))


_CALLER_COLUMNS: Final = (UserRow.user_id, UserRow.name, UserRow.role, UserRow.party_id,
                           UserRow.token_hash, PartyRow.country)
_CALLER: Final = (
    select(*_CALLER_COLUMNS)
    .outerjoin(PartyRow, PartyRow.party_id == UserRow.party_id)
    .where(UserRow.token_hash == bindparam("token_hash")))
_CALLER_AND_SIZE: Final = (
    select(*_CALLER_COLUMNS, LAST_LEAF.scalar_subquery())
    .outerjoin(PartyRow, PartyRow.party_id == UserRow.party_id)
    .where(UserRow.token_hash == bindparam("token_hash")))


def caller_by_token_hash(db: Session | Connection, token_hash: str
                         ) -> Row[str, str, str, str | None, str, str | None] | None:
    """The user holding `token_hash` with its party's country (None without a party):
    one indexed look-up, as plain columns, because every API request makes it."""
    return db.execute(_CALLER, {"token_hash": token_hash}).first()


def caller_and_tree_size(db: Session | Connection, token_hash: str
                         ) -> Row[str, str, str, str | None, str, str | None, int | None] | None:
    """`caller_by_token_hash` and, last, the log's highest leaf index (None: no leaf),
    in one statement: the API's report requests need both, and one statement costs
    half of two."""
    return db.execute(_CALLER_AND_SIZE, {"token_hash": token_hash}).first()


_COMPILED: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}


def caller_and_tree_size_now(engine: Engine, token_hash: str) -> tuple[Any, ...] | None:
    """`caller_and_tree_size` as a plain tuple, run straight on a pooled driver
    connection outside any transaction (a single statement reads one consistent state
    by itself). The API's cached reports run it on every request: SQLAlchemy's own
    execution and transaction handling cost five times the statement."""
    dialect = engine.dialect
    found = _COMPILED.get(dialect.name)
    if found is None:
        compiled = _CALLER_AND_SIZE.compile(dialect=dialect)
        found = _COMPILED[dialect.name] = (
            compiled.string, tuple(compiled.positiontup or ()) if compiled.positional
            else None, dict(compiled.params))  # the statement's own literals (its LIMIT)
    sql, positions, literals = found
    named = {**literals, "token_hash": token_hash}
    params: Any = named if positions is None else tuple(named[p] for p in positions)
    driver = engine.raw_connection()
    # psycopg would open a transaction that the pool then rolls back: a second round
    # trip. SQLite connections here never begin implicitly (`store.db`).
    autocommit = dialect.name == "postgresql"
    try:
        if autocommit:
            driver.dbapi_connection.autocommit = True  # type: ignore[union-attr]
        cursor = driver.cursor()
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        if autocommit:
            driver.dbapi_connection.autocommit = False  # type: ignore[union-attr]
    except Exception:
        # a driver error outside SQLAlchemy's handling (a lost server, say): never pool
        # the connection again, whatever state it is left in
        driver.invalidate()
        raise
    finally:
        driver.close()
    return None if row is None else tuple(row)


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.user_id)))
