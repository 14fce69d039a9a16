"""API users: who may call the REST API, in which role, on behalf of which party.

A user's bearer token is never stored: only the SHA-256 of it (tokens are 32 random
bytes, so a fast hash is as safe as a slow one and lets a request find its user by
one indexed look-up). `token_hash` is unique; `party_id` names the state (officer),
manufacturer, or buyer (inspector) the user acts for, and is NULL for admins and
auditors.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, String, Text, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.store.base import Base, ident


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


def user_by_token_hash(session: Session, token_hash: str) -> UserRow | None:
    return session.scalars(select(UserRow).where(UserRow.token_hash == token_hash)).first()


def list_users(session: Session) -> list[UserRow]:
    return list(session.scalars(select(UserRow).order_by(UserRow.user_id)))
