"""What routes share: the app's settings, database sessions, and the calling user.

Each request gets one session in one transaction: `reading` for GETs (on SQLite it
takes no write lock), `writing` for imports and for reads that refresh a cache (the
compliance evaluations), committed when the route returns and rolled back on any error.
The caller is found in that same session (`Viewer` shares the route's `Reading`,
`WritingViewer` its `Writing`), so a request opens one session, not two. The bearer
token is looked up on every request, by its hash, and compared in constant time
(`services.users.authenticate`): a token whose user is gone is refused at once, with
no cache to outlive it. No token means the public, a wrong token is 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from dronedeal.services import keys, users
from dronedeal.services.access import NotAuthenticatedError


@dataclass(frozen=True)
class Settings:
    """The app's configuration, fixed when it is built."""

    engine: Engine
    #: `engine` whose transactions only read (`store.db.read_only`)
    reader_engine: Engine
    writers: sessionmaker[Session]
    readers: sessionmaker[Session]
    key: Path
    max_upload_bytes: int

    def signer(self) -> keys.Signer:
        return keys.load_signer(self.key)


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def reading(request: Request) -> Iterator[Session]:
    """A read-only session in one transaction for the request."""
    with settings(request).readers() as session, session.begin():
        yield session


def writing(request: Request) -> Iterator[Session]:
    """A session whose transaction commits when the route returns without error."""
    with settings(request).writers() as session, session.begin():
        yield session


@contextmanager
def snapshot(request: Request) -> Iterator[Connection]:
    """A reading connection in a transaction that sees one state of the database from
    its first statement to its last, so that a report computed in it matches the log
    size read in it: REPEATABLE READ on PostgreSQL (whose READ COMMITTED lets each
    statement see later commits); any SQLite transaction already does."""
    with settings(request).reader_engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            yield connection


Reading = Annotated[Session, Depends(reading)]
Writing = Annotated[Session, Depends(writing)]


def bearer(request: Request) -> str | None:
    """The bearer token of the request (None: no Authorization header); a header that
    is not `Bearer <token>` is 401."""
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticatedError("the Authorization header must be `Bearer <token>`")
    return token.strip()


async def bearer_token(request: Request) -> str | None:
    """`bearer` as a dependency; it reads no database, so it costs no thread."""
    return bearer(request)


Token = Annotated[str | None, Depends(bearer_token)]


def authenticate(request: Request, session: Session, token: str | None
                 ) -> users.User | None:
    """The user of `token` in `session` (None for the public), named in the access log;
    a token that names no user is 401."""
    if token is None:
        request.state.user = "anonymous"
        return None
    user = users.authenticate(session, token)
    if user is None:
        raise NotAuthenticatedError("the bearer token is not valid")
    request.state.user = user.user_id
    return user


def authenticate_at(request: Request, connection: Connection, token: str
                    ) -> tuple[users.User, int]:
    """The user of `token` and the log's tree size, read in one statement in the
    transaction of `connection` (a report's hot path); a token that names no user is
    401."""
    found = users.authenticate_at(connection, token)
    if found is None:
        raise NotAuthenticatedError("the bearer token is not valid")
    request.state.user = found[0].user_id
    return found


def authenticate_now(request: Request, token: str) -> tuple[users.User, int]:
    """`authenticate_at` in one statement of its own, outside any transaction: the
    cheapest look-up, for a request that may need nothing else from the database."""
    found = users.authenticate_now(settings(request).reader_engine, token)
    if found is None:
        raise NotAuthenticatedError("the bearer token is not valid")
    request.state.user = found[0].user_id
    return found


def caller(request: Request, token: str | None) -> users.User | None:
    """The user of `token`, found in a short session of its own: for a route that must
    know its caller before it reads a body and then writes in a session of its own (an
    upload), so that no reading transaction stays open across the upload."""
    with settings(request).readers() as session, session.begin():
        return authenticate(request, session, token)


def viewer(request: Request, session: Reading, token: Token) -> users.User | None:
    """The calling user, found in the route's reading session; None for the public."""
    return authenticate(request, session, token)


def writing_viewer(request: Request, session: Writing, token: Token) -> users.User | None:
    """The calling user, found in the route's writing session; None for the public."""
    return authenticate(request, session, token)


Viewer = Annotated[users.User | None, Depends(viewer)]
WritingViewer = Annotated[users.User | None, Depends(writing_viewer)]

#: the id syntax of SPEC §4; an id outside it names nothing, so it is refused (422) before
#: any query (PostgreSQL, for one, refuses a NUL in a text parameter)
ID_PATTERN: Final = r"^[A-Za-z0-9._:-]+$"
PathId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=ID_PATTERN)]
QueryId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID_PATTERN)]
