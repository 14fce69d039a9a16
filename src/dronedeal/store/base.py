"""The declarative base every table of dronedeal hangs on.

Money columns are `BigInteger` minor units beside a currency column; ids are
`String(64)`; dates are `Date`; hashes are 32-byte `LargeBinary`. Constraint names
follow a fixed convention so Alembic migrations are the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import MetaData, String
from sqlalchemy.orm import DeclarativeBase

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def ident(length: int = 64) -> String:
    """An id column type that sorts bytewise on both databases (PostgreSQL's "C"
    collation; SQLite's BINARY is bytewise already), so listings come out in the same
    order whichever database holds them."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")
