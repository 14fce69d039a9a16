"""What routes share: the app's settings, database sessions, and the calling user.

Each request gets its own session in its own transaction: `reading` for GETs (on SQLite
it takes no write lock), `writing` for imports and for reads that refresh a cache (the
compliance evaluations), committed when the route returns and rolled back on any error.
The bearer token is looked up in constant time (`services.users.authenticate`); no
token means the public, a wrong token is 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

from fastapi import Depends, Query, Request
from fastapi import Path as PathParam
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from dronedeal.services import keys, users
from dronedeal.services.access import NotAuthenticatedError


@dataclass(frozen=True)
class Settings:
    """The app's configuration, fixed when it is built."""

    engine: Engine
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


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticatedError("the Authorization header must be `Bearer <token>`")
    return token.strip()


def viewer(request: Request) -> users.User | None:
    """The calling user; None for the public (no Authorization header)."""
    token = _bearer(request)
    if token is None:
        request.state.user = "anonymous"
        return None
    with settings(request).readers() as session, session.begin():
        user = users.authenticate(session, token)
    if user is None:
        raise NotAuthenticatedError("the bearer token is not valid")
    request.state.user = user.user_id
    return user


Viewer = Annotated[users.User | None, Depends(viewer)]
Reading = Annotated[Session, Depends(reading)]
Writing = Annotated[Session, Depends(writing)]

#: the id syntax of SPEC §4; an id outside it names nothing, so it is refused (422) before
#: any query (PostgreSQL, for one, refuses a NUL in a text parameter)
ID_PATTERN: Final = r"^[A-Za-z0-9._:-]+$"
PathId = Annotated[str, PathParam(min_length=1, max_length=64, pattern=ID_PATTERN)]
QueryId = Annotated[str | None, Query(min_length=1, max_length=64, pattern=ID_PATTERN)]
