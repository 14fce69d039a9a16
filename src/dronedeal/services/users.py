"""API users and their tokens (SPEC §8): make a user, find the user behind a token.

Invariants: a token is shown once, when the user is made, and only its SHA-256 is
stored; a token is compared in constant time (`hmac.compare_digest`) after the look-up
by hash, so neither a wrong token nor a near miss leaks timing. Each role names the
party it acts for: an officer a party of kind `state`, a manufacturer a party of kind
`manufacturer`, an inspector the buyer party whose inspections it records; admins and
auditors act for no party. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from dronedeal.store import users as store
from dronedeal.store.master import PartyRow

Role = Literal["admin", "officer", "manufacturer", "inspector", "auditor"]
ROLES: Final[tuple[str, ...]] = get_args(Role)
#: roles that act for one party, and the party kinds each accepts
PARTY_KINDS: Final[dict[str, tuple[str, ...]]] = {
    "officer": ("state",),
    "manufacturer": ("manufacturer",),
    "inspector": ("state", "agency"),
}
TOKEN_BYTES: Final = 32


class UserError(ValueError):
    """The user cannot be made as asked (a usage error)."""


@dataclass(frozen=True, slots=True)
class User:
    """Who is calling: a stored user (the token is never part of it)."""

    user_id: str
    name: str
    role: Role
    party_id: str | None
    #: the country of `party_id` (an officer's state), None without a party
    country: str | None


@dataclass(frozen=True, slots=True)
class NewUser:
    """A user just made, with its token: the only time the token is known."""

    user: User
    token: str


def token_hash(token: str) -> str:
    """The stored form of a token: hex SHA-256 of its UTF-8 bytes."""
    return hashlib.sha256(token.encode()).hexdigest()


def _role(text: str) -> Role:
    for role in get_args(Role):
        if role == text:
            return role  # type: ignore[no-any-return]
    raise UserError(f"role {text!r} is not one of {', '.join(ROLES)}")


def create_user(session: Session, *, name: str, role: str, party_id: str | None = None,
                now: dt.datetime | None = None) -> NewUser:
    """Make a user and its token; UserError when the role and party do not fit."""
    checked = _role(role)
    name = name.strip()
    if not name:
        raise UserError("a user needs a name")
    country = None
    kinds = PARTY_KINDS.get(checked)
    if kinds is None:
        if party_id is not None:
            raise UserError(f"a user of role {checked} acts for no party; leave out --party")
    else:
        if party_id is None:
            raise UserError(f"a user of role {checked} acts for one party: give --party ID "
                            f"(a party of kind {' or '.join(kinds)})")
        party = session.get(PartyRow, party_id)
        if party is None:
            raise UserError(f"no party {party_id!r} in the store; import the parties first")
        if party.kind not in kinds:
            raise UserError(f"party {party_id} is of kind {party.kind}; a user of role "
                            f"{checked} acts for a party of kind {' or '.join(kinds)}")
        country = party.country
    token = secrets.token_urlsafe(TOKEN_BYTES)
    user_id = "u-" + secrets.token_hex(8)
    store.insert_user(session, user_id=user_id, name=name, role=checked, party_id=party_id,
                      token_hash=token_hash(token), created_at=now or dt.datetime.now(dt.UTC))
    return NewUser(User(user_id, name, checked, party_id, country), token)


def authenticate(db: Session | Connection, token: str) -> User | None:
    """The user whose token is `token`, or None."""
    if not token or len(token) > 256:
        return None
    wanted = token_hash(token)
    row = store.caller_by_token_hash(db, wanted)
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return User(row.user_id, row.name, _role(row.role), row.party_id, row.country)


def authenticate_at(db: Session | Connection, token: str) -> tuple[User, int] | None:
    """The user whose token is `token` and the log's tree size as this transaction sees
    it, read in one statement; None when no user holds the token."""
    if not token or len(token) > 256:
        return None
    wanted = token_hash(token)
    row = store.caller_and_tree_size(db, wanted)
    return None if row is None else _caller_at(tuple(row), wanted)


def authenticate_now(engine: Engine, token: str) -> tuple[User, int] | None:
    """`authenticate_at` in one statement of its own, outside any transaction: the
    user and the log's tree size as of now, at the lowest cost (the API's cached
    reports ask it on every request)."""
    if not token or len(token) > 256:
        return None
    wanted = token_hash(token)
    row = store.caller_and_tree_size_now(engine, wanted)
    return None if row is None else _caller_at(row, wanted)


def _caller_at(row: tuple[Any, ...], wanted: str) -> tuple[User, int] | None:
    """(user, tree size) from a `caller_and_tree_size` row, if its hash is `wanted`."""
    user_id, name, role, party_id, stored, country, last = row
    if not hmac.compare_digest(stored, wanted):
        return None
    return (User(user_id, name, _role(role), party_id, country),
            0 if last is None else int(last) + 1)


def list_users(session: Session) -> list[User]:
    """Every user, by id (no tokens: they are not stored)."""
    parties = {}
    out = []
    for row in store.list_users(session):
        if row.party_id is not None and row.party_id not in parties:
            party = session.get(PartyRow, row.party_id)
            parties[row.party_id] = party.country if party is not None else None
        out.append(User(row.user_id, row.name, _role(row.role), row.party_id,
                        parties.get(row.party_id) if row.party_id else None))
    return out
