"""The ledger's table and every query on it.

`ledger_transfer` holds one row per posted transfer, never updated or deleted: a
correction is a new reversing row. Each row names the log leaf that logged it
(`leaf_index`), and is that leaf's only copy: `transfer` is a derived leaf kind
(`store.log.register_derived_kind`), whose canonical text `render_transfers` gives back
from the row, so the log's leaf hash vouches for every column. The database keeps what
it can itself: a positive amount, two distinct parties, one row per leaf, at most one
reversal per transfer (a partial unique index). Parties and agreements are not foreign
keys: the posting service builds transfers from stored records, and the ledger stays
writable in bulk without a look-up per row.

Bulk paths: inserts go through one `executemany` (`COPY` on PostgreSQL), look-ups by id
go in chunks, balances are one SQL aggregation, and reads stream in log order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    Index,
    Row,
    Select,
    String,
    Table,
    func,
    insert,
    select,
    text,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.core.ledger import (
    LEAF_KIND,
    TRANSFER_FIELDS,
    Account,
    Transfer,
    leaf_texts_of,
    transfer_fields,
)
from dronedeal.store import log
from dronedeal.store.base import Base

#: how many ids one `IN (…)` look-up carries
LOOKUP_CHUNK: Final = 4_000
#: rows fetched per round trip when streaming
STREAM_CHUNK: Final = 10_000


class LedgerTransferRow(Base):
    """One posted transfer, immutable."""

    __tablename__ = "ledger_transfer"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("original_amount > 0", name="original_amount_positive"),
        CheckConstraint("debit_party <> credit_party", name="two_parties"),
        Index("ix_ledger_transfer_agreement", "agreement_id"),
        Index("uq_ledger_transfer_leaf_index", "leaf_index", unique=True),
        Index("uq_ledger_transfer_reverses", "reverses", unique=True,
              sqlite_where=text("reverses IS NOT NULL"),
              postgresql_where=text("reverses IS NOT NULL")),
    )

    #: chosen by the client, derived from the source event (`acc:<lot>:<date>`, …)
    transfer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    agreement_id: Mapped[str] = mapped_column(String(64))
    #: acceptance, fund_contribution, case_delivery, payment or reversal
    kind: Mapped[str] = mapped_column(String(32))
    debit_party: Mapped[str] = mapped_column(String(64))
    credit_party: Mapped[str] = mapped_column(String(64))
    #: minor units of `currency`, the agreement's currency; always > 0
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    #: minor units of `original_currency`, the source event's amount before conversion
    original_amount: Mapped[int] = mapped_column(BigInteger)
    original_currency: Mapped[str] = mapped_column(String(3))
    event_date: Mapped[dt.date] = mapped_column(Date)
    #: the source event (`lot:<id>`, `case_delivery:<id>`, `payment:<id>`)
    reference: Mapped[str] = mapped_column(String(255))
    #: the transfer a reversal undoes
    reverses: Mapped[str | None] = mapped_column(String(128))
    #: the log leaf holding this transfer's canonical document
    leaf_index: Mapped[int] = mapped_column(BigInteger)


TABLE: Final = cast(Table, LedgerTransferRow.__table__)
#: the columns of a row, in the order `insert_transfers` writes them
COLUMNS: Final = (*TRANSFER_FIELDS, "leaf_index")
_SELECTED: Final = tuple(TABLE.c[name] for name in COLUMNS)


def _transfer(row: Row[Any] | Sequence[Any]) -> Transfer:
    (transfer_id, agreement_id, kind, debit_party, credit_party, amount, currency,
     original_amount, original_currency, event_date, reference, reverses) = row[:12]
    if isinstance(event_date, str):  # a raw SQLite row
        event_date = dt.date.fromisoformat(event_date)
    return Transfer(transfer_id, agreement_id, kind, debit_party, credit_party, int(amount),
                    currency, int(original_amount), original_currency, event_date, reference,
                    reverses)


_SQLITE_INSERT: Final = (f"INSERT INTO ledger_transfer ({', '.join(COLUMNS)}) "
                         f"VALUES ({', '.join('?' for _ in COLUMNS)})")
_SELECT_LIST: Final = ", ".join(COLUMNS)


#: the rows `insert_transfers` writes, each its transfer's fields in `TRANSFER_FIELDS`
#: order (the date as the dialect takes it) and then its leaf index
Rows = Sequence[tuple[Any, ...]]


def _no_wait(_rows: Rows) -> None:
    return None


def insert_transfers(session: Session, transfers: Sequence[Transfer], first_leaf: int, *,
                     meanwhile: Callable[[Rows], object] = _no_wait) -> None:
    """Write `transfers` as held by consecutive leaves from `first_leaf`, in one batch:
    one `executemany` on SQLite, `COPY` on PostgreSQL. `meanwhile` gets the rows written
    (the fields `core.ledger.leaf_texts_of` reads) once they are sent — on PostgreSQL
    before the COPY is confirmed — then the database answers."""
    if not transfers:
        meanwhile([])
        return
    assert first_leaf >= 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        rows = [(*fields, leaf) for leaf, fields in
                enumerate(map(transfer_fields, transfers), first_leaf)]
        _copy_transfers(session, rows, meanwhile)
    elif dialect == "sqlite":
        # the DB-API directly: SQLAlchemy's per-row parameter processing would double the
        # cost of the hot path. Dates go as ISO text, which is how the Date type stores them.
        rows = [(t.transfer_id, t.agreement_id, t.kind, t.debit_party, t.credit_party,
                 t.amount, t.currency, t.original_amount, t.original_currency,
                 t.event_date.isoformat(), t.reference, t.reverses, leaf)
                for leaf, t in enumerate(transfers, first_leaf)]
        session.connection().exec_driver_sql(_SQLITE_INSERT, rows)
        meanwhile(rows)
    else:
        rows = [(*fields, leaf) for leaf, fields in
                enumerate(map(transfer_fields, transfers), first_leaf)]
        session.execute(insert(TABLE), [dict(zip(COLUMNS, row, strict=True)) for row in rows])
        meanwhile(rows)


def insert_if_new(session: Session, transfers: Sequence[Transfer], first_leaf: int, *,
                  meanwhile: Callable[[Rows], object] = _no_wait) -> bool:
    """`insert_transfers` when none of the ids is taken (within the batch too): True.
    On a unique-key conflict it rolls back to a savepoint, writes nothing, and returns
    False, so the caller can sort the batch out the slow way. `meanwhile` gets the rows
    once they are sent and before the database has confirmed them: PostgreSQL works
    through a COPY in its own process while this one goes on."""
    conflict = (IntegrityError, session.get_bind().dialect.loaded_dbapi.IntegrityError)
    savepoint = session.begin_nested()
    try:
        insert_transfers(session, transfers, first_leaf, meanwhile=meanwhile)
    except conflict:
        savepoint.rollback()
        return False
    savepoint.commit()
    return True


#: PostgreSQL types of `COLUMNS`, for binary COPY (no text parsing on the server)
_COPY_TYPES: Final = ["varchar", "varchar", "varchar", "varchar", "varchar", "int8", "varchar",
                      "int8", "varchar", "date", "varchar", "varchar", "int8"]


def _copy_transfers(session: Session, rows: Rows, meanwhile: Callable[[Rows], object]) -> None:
    # psycopg 3 COPY on the session's own connection, so it shares the transaction
    driver = session.connection().connection.driver_connection
    assert driver is not None
    columns = ", ".join(COLUMNS)
    with driver.cursor() as cursor, cursor.copy(
            f"COPY ledger_transfer ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_COPY_TYPES)
        for row in rows:
            copy.write_row(row)
        meanwhile(rows)  # the server still indexes the rows sent; leaving the block waits


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for value in values:
        chunk.append(value)
        if len(chunk) == LOOKUP_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def posted_transfers(session: Session, transfer_ids: Iterable[str]) -> dict[str, Transfer]:
    """The already posted transfers among `transfer_ids`, by id (the idempotency look-up:
    one primary-key probe per id, in chunks, with the driver's own parameters)."""
    found: dict[str, Transfer] = {}
    connection = session.connection()
    dialect = connection.dialect.name
    for chunk in _chunks(set(transfer_ids)):
        if dialect == "sqlite":
            rows: Iterable[Any] = connection.exec_driver_sql(
                f"SELECT {_SELECT_LIST} FROM ledger_transfer WHERE transfer_id IN "
                f"({', '.join('?' for _ in chunk)})", tuple(chunk))
        elif dialect == "postgresql":
            rows = connection.exec_driver_sql(
                f"SELECT {_SELECT_LIST} FROM ledger_transfer WHERE transfer_id = ANY(%s)",
                (chunk,))
        else:
            rows = session.execute(select(*_SELECTED).where(TABLE.c.transfer_id.in_(chunk)))
        for row in rows:
            found[row[0]] = _transfer(row)
    return found


def reversals_of(session: Session, transfer_ids: Iterable[str]) -> dict[str, str]:
    """Reversed transfer id -> id of the reversal that undid it, among `transfer_ids`."""
    found: dict[str, str] = {}
    for chunk in _chunks(set(transfer_ids)):
        query = select(TABLE.c.reverses, TABLE.c.transfer_id).where(TABLE.c.reverses.in_(chunk))
        for reversed_id, reversal_id in session.execute(query):
            found[reversed_id] = reversal_id
    return found


def agreement_currencies(session: Session, agreement_ids: Iterable[str]) -> dict[str, str]:
    """The currency each agreement already posts in (one indexed row per agreement)."""
    found: dict[str, str] = {}
    for agreement_id in sorted(set(agreement_ids)):
        currency = session.execute(
            select(TABLE.c.currency).where(TABLE.c.agreement_id == agreement_id).limit(1)
        ).scalar_one_or_none()
        if currency is not None:
            found[agreement_id] = currency
    return found


def _legs(agreement_id: str | None, as_of: dt.date | None) -> Any:
    credits = select(TABLE.c.agreement_id, TABLE.c.credit_party.label("party_id"),
                     TABLE.c.currency, TABLE.c.amount.label("signed"),
                     TABLE.c.event_date)
    debits = select(TABLE.c.agreement_id, TABLE.c.debit_party.label("party_id"),
                    TABLE.c.currency, (-TABLE.c.amount).label("signed"), TABLE.c.event_date)
    for condition in _conditions(agreement_id, as_of):
        credits = credits.where(condition)
        debits = debits.where(condition)
    return union_all(credits, debits).subquery("legs")


def _conditions(agreement_id: str | None, as_of: dt.date | None) -> list[Any]:
    conditions: list[Any] = []
    if agreement_id is not None:
        conditions.append(TABLE.c.agreement_id == agreement_id)
    if as_of is not None:
        conditions.append(TABLE.c.event_date <= as_of)
    return conditions


def account_balances(
    session: Session, agreement_id: str | None = None, as_of: dt.date | None = None
) -> dict[Account, int]:
    """Credits − debits per account (every account that has a transfer), as of a date."""
    legs = _legs(agreement_id, as_of)
    query = (
        select(legs.c.agreement_id, legs.c.party_id, legs.c.currency, func.sum(legs.c.signed))
        .group_by(legs.c.agreement_id, legs.c.party_id, legs.c.currency)
    )
    return {Account(a, p, c): int(total) for a, p, c, total in session.execute(query)}


def account_openings(session: Session, agreement_id: str | None = None) -> dict[Account, dt.date]:
    """The date of each account's first transfer."""
    legs = _legs(agreement_id, None)
    query = (
        select(legs.c.agreement_id, legs.c.party_id, legs.c.currency,
               func.min(legs.c.event_date))
        .group_by(legs.c.agreement_id, legs.c.party_id, legs.c.currency)
    )
    return {Account(a, p, c): day for a, p, c, day in session.execute(query)}


def _ordered(agreement_id: str | None) -> Select[Any]:
    query = select(*_SELECTED).order_by(TABLE.c.leaf_index)
    if agreement_id is not None:
        query = query.where(TABLE.c.agreement_id == agreement_id)
    return query


def stream_transfers(
    session: Session, agreement_id: str | None = None
) -> Iterator[tuple[Transfer, int]]:
    """Every transfer with its leaf index, in log order, fetched in chunks."""
    result = session.execute(_ordered(agreement_id).execution_options(yield_per=STREAM_CHUNK))
    for row in result:
        yield _transfer(row), int(row[12])


def rows_in_leaves(session: Session, first: int, last: int) -> list[tuple[Any, ...]]:
    """The raw rows (`COLUMNS` order, `event_date` as ISO text) of the transfers held by
    leaves `first`..`last` inclusive, in log order: the bulk read of `verify`."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        query = _ordered(None).where(TABLE.c.leaf_index.between(first, last))
        return [(*row[:9], row[9].isoformat(), *row[10:]) for row in session.execute(query)]
    mark = "?" if dialect == "sqlite" else "%s"
    return _raw_rows(session, f"leaf_index BETWEEN {mark} AND {mark}", (first, last))


def _raw_rows(session: Session, condition: str, params: tuple[Any, ...]
              ) -> list[tuple[Any, ...]]:
    # the driver's cursor: plain tuples, no Row objects, for a million-leaf verify
    cast = "::text" if session.get_bind().dialect.name == "postgresql" else ""
    select_list = _SELECT_LIST.replace("event_date", f"event_date{cast}")
    return log.fetch(session, f"SELECT {select_list} FROM ledger_transfer WHERE {condition} "
                              "ORDER BY leaf_index", params)


def render_transfers(session: Session, first: int, last: int) -> dict[int, str]:
    """The canonical leaf texts of the transfers held by leaves `first`..`last`, by leaf
    index: the log's renderer of `transfer` leaves."""
    rows = rows_in_leaves(session, first, last)
    return dict(zip([int(row[12]) for row in rows], leaf_texts_of(rows), strict=True))


def pick_transfers(session: Session, indices: Sequence[int]) -> dict[int, str]:
    """`render_transfers` of the transfers held by the leaves at `indices`."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return {index: text for index in indices
                for text in render_transfers(session, index, index).values()}
    condition, params = log.picked("leaf_index", indices, sqlite=dialect == "sqlite")
    rows = _raw_rows(session, condition, params)
    return dict(zip([int(row[12]) for row in rows], leaf_texts_of(rows), strict=True))


log.register_derived_kind(LEAF_KIND, render_transfers, table="ledger_transfer",
                          pick=pick_transfers)


def count_transfers(session: Session, agreement_id: str | None = None) -> int:
    query = select(func.count()).select_from(TABLE)
    if agreement_id is not None:
        query = query.where(TABLE.c.agreement_id == agreement_id)
    return int(session.execute(query).scalar_one())
