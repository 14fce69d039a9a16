"""Event tables: shipments, inspections, purchase cases, case deliveries, payments.

Events are immutable (SPEC §4): a row is written once, by the import that brought it
(`services.deliveries`), with the index of the log leaf that holds its canonical JSON
(`{"kind": "shipment" | "inspection" | "case_line" | "case_delivery" | "payment", …}`).
Re-importing the same event is a no-op; the same key with other content is refused.
Amounts are integer minor units beside their currency. Every query on these tables
lives here. What each table means, for the reports built on it (position, settlement,
dashboard, API):

- `shipment`: one row per serial delivered. `manufacturer_id` is the product's supplier
  when it shipped; (manufacturer_id, serial) is the primary key, so a serial is
  delivered at most once per manufacturer (SPEC §3 inv. 6). Units shipped on an order
  = its rows, never more than the order's quantity. `license_id` is NULL on a flow that
  needs no license; otherwise the license drew `license_drawdown` rows per lot and date
  (reference `shp:<lot>:<shipped_on>:<first serial>`). A lot ships for one agreement,
  flow, buyer, supplier and currency (the importer enforces it), so a lot's value is
  units × its orders' unit price; shipped value per SPEC §5 is computed per lot and
  `shipped_on`, converted at that date.
- `inspection`: at most one row per shipped serial (same primary key, a foreign key to
  `shipment`); `inspected_on` ≥ the shipment's `shipped_on`; `result` is `accepted` or
  `rejected` (`reason` free text). An accepted unit had no blocking finding on
  `inspected_on`. Accepted units are posted per (lot, inspected_on) as ledger transfer
  `acc:<lot>:<date>` (kind `acceptance`, reference `lot:<lot>`) with fund contributions
  `fund:<lot>:<date>`; when a later import accepts more units of the same lot on the
  same date, they post as a part `acc:<lot>:<n>:<date>` (reference `lot:<lot>:<n>`,
  n ≥ 2). Rejected units post nothing; rejected value is computed like accepted value.
- `case_line`: a line of a purchase case (an FMS-style letter of offer) of a flow fed by
  cases; it is that flow's order and authorisation. Its buyer is the flow's buyer, its
  seller is a party of the flow's seller country; its currency converts into the
  agreement's at `signed_on` (ordered value).
- `case_delivery`: units of a case line delivered on `delivered_on`; the sum per line
  never exceeds the line's quantity. For a flow fed by cases, shipped = accepted =
  delivered. Posted as `cd:<delivery_id>` (kind `case_delivery`: buyer owes seller).
- `payment`: money paid between two parties of an agreement (flow buyers and end users,
  suppliers and buyers of its orders, sellers and buyers of its cases, its fund).
  Posted as `pay:<payment_id>` (kind `payment`: debit payee, credit payer) at the rate
  of `paid_on`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, cast

from sqlalchemy import (
    BigInteger,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from dronedeal.core.canonical import canonical_json
from dronedeal.core.money import format_amount
from dronedeal.store import log, serial_scan
from dronedeal.store.base import Base, ident
from dronedeal.store.db import is_sqlite
from dronedeal.store.master import OrderRow

Id = ident()


#: the key of a unit table (shipments, inspections): the log leaf that holds the row.
#: On SQLite an INTEGER PRIMARY KEY is the table's rowid, so rows, which arrive in leaf
#: order, are appended to the table's own B-tree and no index of their leaf is kept
#: beside it (revision 0007); a serial's uniqueness per manufacturer is a unique index.
LeafKey = BigInteger().with_variant(Integer(), "sqlite")


class ShipmentRow(Base):
    __tablename__ = "shipment"
    # No index on `order_id`: units per order are counted in `unit_tally`
    # (`tallies.shipped_per_order`), and every query that names orders also names a lot
    # or a serial; each index is a B-tree a million-row import feeds (revision 0006).
    __table_args__ = (UniqueConstraint("manufacturer_id", "serial"),
                      Index("ix_shipment_lot", "lot_id"))
    #: the product's supplier: a serial is unique per manufacturer (SPEC §3 inv. 6)
    manufacturer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    serial: Mapped[str] = mapped_column(Id)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    lot_id: Mapped[str] = mapped_column(Id)
    order_id: Mapped[str] = mapped_column(ForeignKey("purchase_order.order_id"))
    license_id: Mapped[str | None] = mapped_column(ForeignKey("export_license.license_id"))
    shipped_on: Mapped[dt.date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(LeafKey, primary_key=True, autoincrement=False)


class InspectionRow(Base):
    __tablename__ = "inspection"
    __table_args__ = (
        UniqueConstraint("manufacturer_id", "serial"),
        ForeignKeyConstraint(["manufacturer_id", "serial"],
                             ["shipment.manufacturer_id", "shipment.serial"]),
    )
    manufacturer_id: Mapped[str] = mapped_column(Id)
    serial: Mapped[str] = mapped_column(Id)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    #: `accepted` or `rejected`
    result: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(LeafKey, primary_key=True, autoincrement=False)


class CaseLineRow(Base):
    """A line of a purchase case (e.g. an FMS letter of offer): the authorisation and the
    order of a flow fed by cases."""

    __tablename__ = "case_line"
    __table_args__ = (
        ForeignKeyConstraint(["agreement_id", "flow_id"],
                             ["agreement_flow.agreement_id", "agreement_flow.flow_id"]),
    )
    case_id: Mapped[str] = mapped_column(Id, primary_key=True)
    line: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(Id, index=True)
    flow_id: Mapped[str] = mapped_column(Id)
    seller_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    buyer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: minor units of `currency`
    unit_price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class CaseDeliveryRow(Base):
    __tablename__ = "case_delivery"
    __table_args__ = (
        ForeignKeyConstraint(["case_id", "line"], ["case_line.case_id", "case_line.line"]),
    )
    delivery_id: Mapped[str] = mapped_column(Id, primary_key=True)
    case_id: Mapped[str] = mapped_column(Id)
    line: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)


class PaymentRow(Base):
    __tablename__ = "payment"
    payment_id: Mapped[str] = mapped_column(Id, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreement.agreement_id"), index=True)
    payer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    payee_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    #: minor units of `currency`
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(Text)
    leaf_index: Mapped[int] = mapped_column(BigInteger, unique=True)


# --- repository: every query on the event tables ------------------------------------------

#: ids per `IN (…)`: below SQLite's and PostgreSQL's bind-parameter limits
CHUNK: Final = 500

SHIPMENT: Final = cast(Table, ShipmentRow.__table__)
INSPECTION: Final = cast(Table, InspectionRow.__table__)
CASE_LINE: Final = cast(Table, CaseLineRow.__table__)
CASE_DELIVERY: Final = cast(Table, CaseDeliveryRow.__table__)
PAYMENT: Final = cast(Table, PaymentRow.__table__)

#: (product_id, lot_id, order_id, license_id, shipped_on) of a stored shipment
StoredShipment = tuple[str, str, str, str | None, dt.date]
#: (product_id, result, reason, inspected_on) of a stored inspection
StoredInspection = tuple[str, str, str | None, dt.date]

SHIPMENT_COLUMNS: Final = ("manufacturer_id", "serial", "product_id", "lot_id", "order_id",
                           "license_id", "shipped_on", "leaf_index")
INSPECTION_COLUMNS: Final = ("manufacturer_id", "serial", "product_id", "result", "reason",
                             "inspected_on", "leaf_index")


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def has_shipments(session: Session, manufacturer_id: str) -> bool:
    """Whether the store holds any shipment of `manufacturer_id` (one index probe)."""
    return session.execute(select(SHIPMENT.c.serial).where(
        SHIPMENT.c.manufacturer_id == manufacturer_id).limit(1)).first() is not None


def has_inspections(session: Session, manufacturer_id: str) -> bool:
    """Whether the store holds any inspection of `manufacturer_id` (one index probe)."""
    return session.execute(select(INSPECTION.c.serial).where(
        INSPECTION.c.manufacturer_id == manufacturer_id).limit(1)).first() is not None


def _days(cells: Iterable[Any]) -> dict[Any, dt.date]:
    """Each distinct date cell as the driver returns it (ISO text on SQLite, a date on
    PostgreSQL) mapped to its date, so that a million rows convert at dict speed."""
    return {cell: cell if isinstance(cell, dt.date) else dt.date.fromisoformat(cell)
            for cell in set(cells)}


def _by_serial(session: Session, table: str, columns: str, manufacturer_id: str,
               serials: Sequence[str]) -> list[Sequence[Any]]:
    """Rows of one manufacturer's `serials` (the serial first), fetched by the driver's
    own cursor (no per-row result processing; see `serial_scan.rows_by_serial`)."""
    if not serials:
        return []
    driver: Any = session.connection().connection.driver_connection
    cursor = driver.cursor()
    try:
        return serial_scan.rows_by_serial(cursor, "?" if is_sqlite(session) else "%s", table,
                                          columns, manufacturer_id=manufacturer_id,
                                          serials=serials)
    finally:
        cursor.close()


def shipments_of(session: Session, manufacturer_id: str, serials: Sequence[str]
                 ) -> dict[str, StoredShipment]:
    """Stored shipments of one manufacturer's `serials`, by serial."""
    rows = _by_serial(session, "shipment",
                      "product_id, lot_id, order_id, license_id, shipped_on",
                      manufacturer_id, serials)
    day = _days(row[5] for row in rows)
    return {serial: (product_id, lot_id, order_id, license_id, day[shipped_on])
            for serial, product_id, lot_id, order_id, license_id, shipped_on in rows}


def shipped_lots_of(session: Session, manufacturer_id: str, serials: Sequence[str]
                    ) -> dict[str, tuple[str, str, str, dt.date]]:
    """(product_id, lot_id, order_id, shipped_on) of one manufacturer's stored `serials`,
    by serial: what an inspection checks and tallies (`shipments_of` without the license,
    one tuple per unit fewer to build: an inspection import asks for every unit)."""
    return shipped_lots_from(_by_serial(session, "shipment", serial_scan.SHIPPED_LOTS,
                                        manufacturer_id, serials))


def shipped_lots_from(rows: Sequence[Sequence[Any]]) -> dict[str, tuple[str, str, str, dt.date]]:
    """`shipped_lots_of` from the rows of `serial_scan.SHIPPED_LOTS` (the serial first)."""
    if not rows:
        return {}
    found, product_ids, lot_ids, order_ids, cells = zip(*rows, strict=True)
    day = _days(cells)
    # tuples made by zip, in C: a million units cost no Python step each
    return dict(zip(found, zip(product_ids, lot_ids, order_ids, map(day.__getitem__, cells),
                               strict=True), strict=True))


def shipped_lots_expanded(message: serial_scan.Compact
                          ) -> dict[str, tuple[str, str, str, dt.date]]:
    """`shipped_lots_from` of the rows a look-up server sent `serial_scan.compact`: each
    group's date converted once, the units' tuples shared per group."""
    serials, indices, groups = serial_scan.expand(message)
    day = _days(group[3] for group in groups)
    lots = [(product_id, lot_id, order_id, day[cell])
            for product_id, lot_id, order_id, cell in groups]
    return dict(zip(serials, map(lots.__getitem__, indices), strict=True))


def lookup_database(session: Session) -> str | None:
    """The SQLite file of `session`, which another process may read stored shipments from
    (`serial_scan.serve`); None on PostgreSQL or an in-memory database."""
    url = session.get_bind().engine.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return url.database


def inspections_of(session: Session, manufacturer_id: str, serials: Sequence[str]
                   ) -> dict[str, StoredInspection]:
    """Stored inspections of one manufacturer's `serials`, by serial."""
    rows = _by_serial(session, "inspection", "product_id, result, reason, inspected_on",
                      manufacturer_id, serials)
    day = _days(row[4] for row in rows)
    return {serial: (product_id, result, reason, day[inspected_on])
            for serial, product_id, result, reason, inspected_on in rows}


def lot_orders(session: Session, lot_ids: Iterable[str]) -> dict[str, str]:
    """One stored order of each lot that has shipments (a lot ships for one supplier,
    buyer, flow and currency, so any of its orders tells which)."""
    c = SHIPMENT.c
    out: dict[str, str] = {}
    for chunk in _chunks(sorted(set(lot_ids))):
        for lot_id, order_id in session.execute(
            select(c.lot_id, func.min(c.order_id)).where(c.lot_id.in_(chunk))
            .group_by(c.lot_id)
        ):
            out[lot_id] = order_id
    return out


def lock_orders(session: Session, order_ids: Iterable[str]) -> None:
    """Lock orders against concurrent shipping until the transaction ends: PostgreSQL
    `SELECT … FOR UPDATE` in id order (so two importers cannot deadlock on them); on
    SQLite the `BEGIN IMMEDIATE` transaction already holds the write lock."""
    if is_sqlite(session):
        return
    for chunk in _chunks(sorted(set(order_ids))):
        session.execute(select(OrderRow.order_id).where(OrderRow.order_id.in_(chunk))
                        .order_by(OrderRow.order_id).with_for_update()).all()


def _bulk_insert(session: Session, table: Table, columns: Sequence[str],
                 rows: Sequence[tuple[Any, ...]], pg_types: Sequence[str]) -> None:
    """Append rows given as tuples in `columns` order: the DB-API's `executemany` on
    SQLite (dates as ISO text, as the Date type stores them), binary `COPY` on PostgreSQL."""
    if not rows:
        return
    if is_sqlite(session):
        date_at = [i for i, t in enumerate(pg_types) if t == "date"]
        if date_at:
            rows = [tuple(v.isoformat() if i in date_at and v is not None else v
                          for i, v in enumerate(r)) for r in rows]
        marks = ", ".join("?" for _ in columns)
        session.connection().exec_driver_sql(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", list(rows))
        return
    driver: Any = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(
            f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(pg_types))
        for row in rows:
            copy.write_row(row)


def _iso_dates(days: Iterable[dt.date]) -> dict[dt.date, str]:
    """ISO text of each distinct date: how the Date type stores dates on SQLite."""
    return {day: day.isoformat() for day in days}


def insert_shipments(session: Session, rows: Sequence[tuple[Any, ...]], first_leaf: int
                     ) -> None:
    """Append shipments given as tuples in `SHIPMENT_COLUMNS` order without the leaf
    index: row i is held by leaf `first_leaf + i`."""
    if not rows:
        return
    if is_sqlite(session):
        iso = _iso_dates({r[6] for r in rows})
        session.connection().exec_driver_sql(
            f"INSERT INTO shipment ({', '.join(SHIPMENT_COLUMNS)}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?, ?)",
            [(a, b, c, d, e, f, iso[g], leaf)
             for (a, b, c, d, e, f, g), leaf in zip(rows, range(first_leaf, first_leaf
                                                                + len(rows)), strict=True)])
        return
    _bulk_insert(session, SHIPMENT, SHIPMENT_COLUMNS,
                 [(*r, leaf) for r, leaf in zip(rows, range(first_leaf, first_leaf + len(rows)),
                                                strict=True)],
                 ("varchar", "varchar", "varchar", "varchar", "varchar", "varchar", "date",
                  "int8"))


def insert_inspections(session: Session, rows: Sequence[tuple[Any, ...]], first_leaf: int
                       ) -> None:
    """Append inspections given as tuples in `INSPECTION_COLUMNS` order without the leaf
    index: row i is held by leaf `first_leaf + i`."""
    if not rows:
        return
    leaves = range(first_leaf, first_leaf + len(rows))
    if is_sqlite(session):
        iso = _iso_dates({r[5] for r in rows})
        session.connection().exec_driver_sql(
            f"INSERT INTO inspection ({', '.join(INSPECTION_COLUMNS)}) VALUES "
            "(?, ?, ?, ?, ?, ?, ?)",
            [(a, b, c, d, e, iso[f], leaf)
             for (a, b, c, d, e, f), leaf in zip(rows, leaves, strict=True)])
        return
    _bulk_insert(session, INSPECTION, INSPECTION_COLUMNS,
                 [(*r, leaf) for r, leaf in zip(rows, leaves, strict=True)],
                 ("varchar", "varchar", "varchar", "varchar", "text", "date", "int8"))


# -- purchase cases, case deliveries, payments (small tables: plain Core) ---------------

def case_lines(session: Session, agreement_id: str | None = None) -> list[CaseLineRow]:
    """Every stored case line (of one agreement), by case and line."""
    query = select(CaseLineRow).order_by(CaseLineRow.case_id, CaseLineRow.line)
    if agreement_id is not None:
        query = query.where(CaseLineRow.agreement_id == agreement_id)
    return list(session.scalars(query))


def delivered_units(session: Session) -> dict[tuple[str, int], int]:
    """Units delivered so far per case line."""
    c = CASE_DELIVERY.c
    return {(case_id, int(line)): int(units) for case_id, line, units in session.execute(
        select(c.case_id, c.line, func.sum(c.quantity)).group_by(c.case_id, c.line))}


def case_deliveries_by_id(session: Session, delivery_ids: Sequence[str]
                          ) -> dict[str, CaseDeliveryRow]:
    out: dict[str, CaseDeliveryRow] = {}
    for chunk in _chunks(sorted(set(delivery_ids))):
        for row in session.scalars(select(CaseDeliveryRow).where(
                CaseDeliveryRow.delivery_id.in_(chunk))):
            out[row.delivery_id] = row
    return out


def payments_by_id(session: Session, payment_ids: Sequence[str]) -> dict[str, PaymentRow]:
    out: dict[str, PaymentRow] = {}
    for chunk in _chunks(sorted(set(payment_ids))):
        for row in session.scalars(select(PaymentRow).where(PaymentRow.payment_id.in_(chunk))):
            out[row.payment_id] = row
    return out


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows of a small event table (cases, case deliveries, payments)."""
    for chunk in _chunks(rows, 4_000):
        session.execute(insert(table), list(chunk))


def counts(session: Session) -> dict[str, int]:
    """Rows per event table."""
    return {table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (SHIPMENT, INSPECTION, CASE_LINE, CASE_DELIVERY, PAYMENT)}


# -- derived log leaves ----------------------------------------------------------------
# Every event row is the only copy of its log leaf's text (`log.register_derived_kind`):
# the renderers below give the canonical JSON back from the rows, byte for byte as the
# import appended it, so `audit verify` hashes it against the stored leaf hash and a
# changed row fails as a bad leaf. Shipments and inspections are rendered in bulk (some
# 250k rows per CPU-second): one range query on the `leaf_index` index by the driver's
# cursor, the database concatenating each text (ids hold only `[A-Za-z0-9._:-]`, which
# JSON never escapes). A range holding anything else, which only tampering can store,
# goes through `canonical_json`, so every rendered text is its row's canonical form.


#: leaves first … last, or (when not None) just those of the indices among them
_Span = tuple[int, int, Sequence[int] | None]


def _fetch_range(session: Session, sql: str, span: _Span) -> list[tuple[Any, ...]]:
    """Rows of `sql` (a `WHERE leaf_index BETWEEN {} AND {}` query) for the leaves of
    `span`, by the DB-API cursor (no per-row result processing)."""
    first, last, picks = span
    if picks is None:
        return log.fetch(session, sql, (first, last))
    condition, params = log.picked("leaf_index", picks, sqlite=is_sqlite(session))
    return log.fetch(session, sql.replace("leaf_index BETWEEN {} AND {}", condition), params)


def _iso_text() -> Callable[[Any], str]:
    """ISO text of a date cell as the driver returns it (text on SQLite, a date on
    PostgreSQL), each distinct value converted once."""
    cache: dict[Any, str] = {}

    def iso(value: Any) -> str:
        found = cache.get(value)
        if found is None:
            found = cache[value] = (value.isoformat() if isinstance(value, dt.date)
                                    else str(value))
        return found
    return iso


def shipment_document(row: Sequence[Any]) -> dict[str, Any]:
    """The leaf document of a shipment row given in `SHIPMENT_COLUMNS` order (dates as
    ISO text)."""
    maker, serial, product_id, lot_id, order_id, license_id, shipped_on = row[:7]
    return {"kind": "shipment", "license_id": license_id, "lot_id": lot_id,
            "manufacturer_id": maker, "order_id": order_id, "product_id": product_id,
            "serial": serial, "shipped_on": shipped_on}


def inspection_document(row: Sequence[Any]) -> dict[str, Any]:
    """The leaf document of an inspection row given in `INSPECTION_COLUMNS` order (dates
    as ISO text)."""
    maker, serial, product_id, result, reason, inspected_on = row[:6]
    return {"inspected_on": inspected_on, "kind": "inspection", "manufacturer_id": maker,
            "product_id": product_id, "reason": reason, "result": result, "serial": serial}


_SHIPMENT_SQL: Final = (f"SELECT leaf_index, {', '.join(SHIPMENT_COLUMNS[:-1])} FROM shipment "
                        "WHERE leaf_index BETWEEN {} AND {}")
_INSPECTION_SQL: Final = (f"SELECT leaf_index, {', '.join(INSPECTION_COLUMNS[:-1])} "
                          "FROM inspection WHERE leaf_index BETWEEN {} AND {}")

# The texts are concatenated by the database, in C: text pieces at even positions,
# columns between them (`license_id` written as `null` or the quoted id, a date as ISO
# text). An inspection's reason, free text, is encoded here with `canonical_json`.
_SHIPMENT_TEXT: Final = (
    '{"kind":"shipment","license_id":', "license_id", ',"lot_id":"', "lot_id",
    '","manufacturer_id":"', "manufacturer_id", '","order_id":"', "order_id",
    '","product_id":"', "product_id", '","serial":"', "serial", '","shipped_on":"',
    "shipped_on", '"}')
_INSPECTION_HEAD: Final = (
    '{"inspected_on":"', "inspected_on", '","kind":"inspection","manufacturer_id":"',
    "manufacturer_id", '","product_id":"', "product_id", '","reason":')
_INSPECTION_TAIL: Final = (',"result":"', "result", '","serial":"', "serial", '"}')
_DATE_COLUMNS: Final = frozenset({"shipped_on", "inspected_on"})


def _concat(pieces: Sequence[str], sqlite: bool) -> str:
    """A SQL expression of `pieces` (text, column, text, …) concatenated."""
    terms = []
    for position, piece in enumerate(pieces):
        if position % 2 == 0:
            assert "'" not in piece
            terms.append(f"'{piece}'")
        elif piece == "license_id":
            terms.append("(CASE WHEN license_id IS NULL THEN 'null' "
                         "ELSE '\"' || license_id || '\"' END)")
        elif piece in _DATE_COLUMNS and not sqlite:  # SQLite stores dates as ISO text
            terms.append(f"to_char({piece}, 'YYYY-MM-DD')")
        else:
            terms.append(piece)
    return " || ".join(terms)


def _quotes(pieces: Sequence[str]) -> int:
    return sum(piece.count('"') for piece in pieces[::2])


_RENDER_SQL: Final = {
    sqlite: (f"SELECT leaf_index, {_concat(_SHIPMENT_TEXT, sqlite)}, license_id FROM shipment "
             "WHERE leaf_index BETWEEN {} AND {}",
             f"SELECT leaf_index, {_concat(_INSPECTION_HEAD, sqlite)}, reason, "
             f"{_concat(_INSPECTION_TAIL, sqlite)} FROM inspection "
             "WHERE leaf_index BETWEEN {} AND {}")
    for sqlite in (True, False)}


def _plain(texts: str, quotes: int) -> bool:
    """Whether `texts`, written by the templates, hold exactly the templates' `quotes`
    and no other character JSON escapes (a backslash or a control character; the
    printable test also sends any other unusual character to the generic encoder):
    then each text is its canonical JSON."""
    return texts.count('"') == quotes and "\\" not in texts and texts.isprintable()


def render_shipments(session: Session, first: int, last: int) -> dict[int, str]:
    """The leaf texts of the shipments held by leaves `first` … `last`, by leaf index."""
    return _shipment_texts(session, (first, last, None))


def _shipment_texts(session: Session, span: _Span) -> dict[int, str]:
    rows = _fetch_range(session, _RENDER_SQL[is_sqlite(session)][0], span)
    licensed = sum(1 for row in rows if row[2] is not None)
    out = {leaf: text for leaf, text, _ in rows}
    if _plain("".join(out.values()), len(rows) * _quotes(_SHIPMENT_TEXT) + 2 * licensed):
        return out
    iso = _iso_text()
    return {leaf: canonical_json(shipment_document((*row[:6], iso(row[6]))))
            for leaf, *row in _fetch_range(session, _SHIPMENT_SQL, span)}


def render_inspections(session: Session, first: int, last: int) -> dict[int, str]:
    """The leaf texts of the inspections held by leaves `first` … `last`, by leaf index."""
    return _inspection_texts(session, (first, last, None))


def _inspection_texts(session: Session, span: _Span) -> dict[int, str]:
    rows = _fetch_range(session, _RENDER_SQL[is_sqlite(session)][1], span)
    quotes = len(rows) * (_quotes(_INSPECTION_HEAD) + _quotes(_INSPECTION_TAIL))
    if _plain("".join(head + tail for _, head, _, tail in rows), quotes):
        return {leaf: head + ("null" if reason is None else canonical_json(reason)) + tail
                for leaf, head, reason, tail in rows}
    iso = _iso_text()
    return {leaf: canonical_json(inspection_document((*row[:5], iso(row[5]))))
            for leaf, *row in _fetch_range(session, _INSPECTION_SQL, span)}


def _case_line_document(row: Any) -> dict[str, Any]:
    return {"kind": "case_line", "case_id": row.case_id, "line": int(row.line),
            "agreement_id": row.agreement_id, "flow_id": row.flow_id,
            "seller_id": row.seller_id, "buyer_id": row.buyer_id,
            "description": row.description, "category": row.category,
            "quantity": int(row.quantity),
            "unit_price": format_amount(int(row.unit_price), row.currency),
            "currency": row.currency}


def _case_delivery_document(row: Any) -> dict[str, Any]:
    return {"kind": "case_delivery", "delivery_id": row.delivery_id, "case_id": row.case_id,
            "line": int(row.line), "quantity": int(row.quantity),
            "delivered_on": _iso_day(row.delivered_on)}


def _payment_document(row: Any) -> dict[str, Any]:
    return {"kind": "payment", "payment_id": row.payment_id,
            "agreement_id": row.agreement_id, "payer_id": row.payer_id,
            "payee_id": row.payee_id, "amount": format_amount(int(row.amount), row.currency),
            "currency": row.currency, "paid_on": _iso_day(row.paid_on),
            "reference": row.reference}


def _iso_day(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _renderer(table: Table, document: Callable[[Any], dict[str, Any]]
              ) -> Callable[[Session, _Span], dict[int, str]]:
    """A renderer for a small event table: `canonical_json` of each row's document."""

    def render(session: Session, span: _Span) -> dict[int, str]:
        first, last, picks = span
        leaf = table.c.leaf_index
        rows = session.execute(select(table).where(
            leaf.between(first, last) if picks is None else leaf.in_(picks)))
        return {int(row.leaf_index): canonical_json(document(row)) for row in rows}

    return render


#: leaf kind -> (table, texts of a span's rows) of every event table
_TEXTS: Final = {
    "shipment": (SHIPMENT, _shipment_texts),
    "inspection": (INSPECTION, _inspection_texts),
    "case_line": (CASE_LINE, _renderer(CASE_LINE, _case_line_document)),
    "case_delivery": (CASE_DELIVERY, _renderer(CASE_DELIVERY, _case_delivery_document)),
    "payment": (PAYMENT, _renderer(PAYMENT, _payment_document)),
}


def _register(kind: str, table: Table, texts: Callable[[Session, _Span], dict[int, str]]
              ) -> None:
    def render(session: Session, first: int, last: int) -> dict[int, str]:
        return texts(session, (first, last, None))

    def pick(session: Session, indices: Sequence[int]) -> dict[int, str]:
        return texts(session, (min(indices), max(indices), indices))

    log.register_derived_kind(kind, render, table=table.name, pick=pick)


for _kind, (_table, _texts) in _TEXTS.items():
    _register(_kind, _table, _texts)
