"""`unit_tally`: delivered units counted per lot, order, event and day — a summary of
`shipment` and `inspection` kept so that no report reads a million unit rows.

A row counts the units of one (lot, manufacturer, order, product) that were shipped,
accepted or rejected (`event`) on `day` (the shipping date, or the inspection date).
The position (shipped, accepted, rejected per flow), the deliveries per month and the
lot listings read these few thousand rows instead of the unit rows.

Invariant: for every key, `units` equals the count of the unit rows it summarises —
`recount` computes that from the base tables, and tests compare the two after imports.
It holds because unit rows are immutable and written only by the deliveries import,
which calls `add_shipments` / `add_inspections` with the rows it has just written, in
the same transaction (Alembic revision 0003 back-fills the rows stored before). A key's
`units` only grows (upsert: `units = units + excluded.units`), and is always > 0.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Final, cast

from sqlalchemy import BigInteger, CheckConstraint, Date, Index, String, Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.store.base import Base, ident
from dronedeal.store.db import is_sqlite
from dronedeal.store.events import InspectionRow, ShipmentRow

Id = ident()

SHIPPED: Final = "shipped"
ACCEPTED: Final = "accepted"
REJECTED: Final = "rejected"
EVENTS: Final = (SHIPPED, ACCEPTED, REJECTED)
#: tally rows per upsert statement
UPSERT_CHUNK: Final = 2_000

#: (lot_id, manufacturer_id, order_id, product_id, event, day)
TallyKey = tuple[str, str, str, str, str, dt.date]


class UnitTallyRow(Base):
    __tablename__ = "unit_tally"
    __table_args__ = (
        Index("ix_unit_tally_order_day", "order_id", "day"),
        CheckConstraint("units > 0", name="units_positive"),
    )
    lot_id: Mapped[str] = mapped_column(Id, primary_key=True)
    manufacturer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    order_id: Mapped[str] = mapped_column(Id, primary_key=True)
    product_id: Mapped[str] = mapped_column(Id, primary_key=True)
    #: `shipped`, `accepted` or `rejected`
    event: Mapped[str] = mapped_column(String(8), primary_key=True)
    #: the shipping date (`shipped`) or the inspection date
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger)


TALLY: Final = cast(Table, UnitTallyRow.__table__)
KEY_COLUMNS: Final = ("lot_id", "manufacturer_id", "order_id", "product_id", "event", "day")

# positions in the tuples the deliveries import writes (store.events.*_COLUMNS order)
_SHIPMENT_KEY: Final = itemgetter(3, 0, 4, 2, 6)  # lot, maker, order, product, shipped_on
_INSPECTION_KEY: Final = itemgetter(0, 2, 3, 5)  # maker, product, result, inspected_on


def add_shipments(session: Session, rows: Sequence[tuple[Any, ...]]) -> None:
    """Count shipments just written (tuples in `events.SHIPMENT_COLUMNS` order, without
    the leaf index) into the tally."""
    counts: Counter[TallyKey] = Counter()
    for (lot_id, maker, order_id, product_id, shipped_on), units in Counter(
            map(_SHIPMENT_KEY, rows)).items():
        counts[(lot_id, maker, order_id, product_id, SHIPPED, shipped_on)] += units
    _upsert(session, counts)


def add_inspections(session: Session, rows: Sequence[tuple[Any, ...]],
                    lots: Sequence[tuple[str, str]]) -> None:
    """Count inspections just written (tuples in `events.INSPECTION_COLUMNS` order,
    without the leaf index) into the tally; `lots[i]` is the (lot_id, order_id) of the
    unit of `rows[i]`, as its shipment holds them."""
    assert len(rows) == len(lots), "one (lot, order) per inspection row"
    counts: Counter[TallyKey] = Counter()
    for ((maker, product_id, result, inspected_on), (lot_id, order_id)), units in Counter(
            zip(map(_INSPECTION_KEY, rows), lots, strict=True)).items():
        assert result in (ACCEPTED, REJECTED), f"inspection result {result!r}"
        counts[(lot_id, maker, order_id, product_id, result, inspected_on)] += units
    _upsert(session, counts)


def shipped_per_order(session: Session, order_ids: Iterable[str]) -> dict[str, int]:
    """Units shipped so far per order, from the tally (orders with none are left out): the
    same count as the order's shipment rows, read from a few rows per lot."""
    c = TALLY.c
    wanted = sorted(set(order_ids))
    out: dict[str, int] = {}
    for start in range(0, len(wanted), UPSERT_CHUNK):
        for order_id, units in session.execute(
            select(c.order_id, func.sum(c.units))
            .where(c.event == SHIPPED, c.order_id.in_(wanted[start:start + UPSERT_CHUNK]))
            .group_by(c.order_id)
        ):
            out[order_id] = int(units)
    return out


def _upsert(session: Session, counts: Mapping[TallyKey, int]) -> None:
    """Add `counts` to the stored tally, key by key (one statement per chunk)."""
    if not counts:
        return
    items = sorted(counts.items())
    assert all(units > 0 for _, units in items), "a tally only grows"
    dialect_insert = sqlite.insert if is_sqlite(session) else postgresql.insert
    for start in range(0, len(items), UPSERT_CHUNK):
        chunk = items[start:start + UPSERT_CHUNK]
        statement = dialect_insert(TALLY)
        statement = statement.on_conflict_do_update(
            index_elements=list(KEY_COLUMNS),
            set_={"units": TALLY.c.units + statement.excluded.units})
        session.execute(statement, [dict(zip((*KEY_COLUMNS, "units"), (*key, units),
                                             strict=True)) for key, units in chunk])


def stored(session: Session) -> dict[TallyKey, int]:
    """The whole tally, by key (for checks; a few thousand rows at 1M units)."""
    c = TALLY.c
    return {(lot, maker, order, product, event, day): int(units)
            for lot, maker, order, product, event, day, units in session.execute(
                select(c.lot_id, c.manufacturer_id, c.order_id, c.product_id, c.event, c.day,
                       c.units))}


def recount(session: Session) -> dict[TallyKey, int]:
    """The tally computed from the unit rows themselves (reads every one of them: the
    check of `stored`, and what revision 0003 back-fills)."""
    s, i = ShipmentRow, InspectionRow
    out: dict[TallyKey, int] = {}
    shipped = (select(s.lot_id, s.manufacturer_id, s.order_id, s.product_id, s.shipped_on,
                      func.count())
               .group_by(s.lot_id, s.manufacturer_id, s.order_id, s.product_id, s.shipped_on))
    for lot, maker, order, product, day, units in session.execute(shipped):
        out[(lot, maker, order, product, SHIPPED, day)] = int(units)
    inspected = (select(s.lot_id, s.manufacturer_id, s.order_id, s.product_id, i.result,
                        i.inspected_on, func.count())
                 .select_from(i)
                 .join(s, and_(s.manufacturer_id == i.manufacturer_id, s.serial == i.serial))
                 .group_by(s.lot_id, s.manufacturer_id, s.order_id, s.product_id, i.result,
                           i.inspected_on))
    for lot, maker, order, product, result, day, units in session.execute(inspected):
        out[(lot, maker, order, product, result, day)] = int(units)
    return out
