"""The aggregation queries behind the position report (SPEC §5).

Each query returns `core.position.Batch`es — units and source-currency value of one
flow, on one date, in one currency — for the service to convert once per batch. Units
are never fetched one by one: they are read from `unit_tally` (store/tallies.py), which
the import keeps per (lot, order, event, day), then regrouped per (flow, lot, date,
currency), the grouping the ledger posts acceptances by (lots priced in the agreement
currency per (flow, date): their conversion is the identity); the position of a million
units reads some thousands of rows. Case deliveries and payments are converted one by
one, as the ledger posts them, and are few. Orders and case lines are each converted
at the agreement's `signed_on` (rounded per order), so they come one per row.

`balance_changes` gives the ledger's per-day change of each party's balance, for
balances at many dates from one read. `once_per_state` keeps what one request's session
computed (the tally's batches, the balances) until the log grows, so that two parts of
a page do not read the same rows twice.

Every event query counts only events dated on or before `as_of`. Orders and case lines
are authorisations, not dated events: they count whatever `as_of`. The queries are
plain SQLAlchemy Core, fetched whole (`.all()`: one driver fetch, not one per row; the
tally's rows, the most read, through the driver's cursor)
and give the same rows on SQLite and PostgreSQL (sums of BigInteger come back as
`Decimal` on PostgreSQL and are turned into `int`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from sqlalchemy import String, and_, func, select, type_coerce
from sqlalchemy.orm import Session

from dronedeal.core.position import Batch
from dronedeal.store.db import is_sqlite
from dronedeal.store.events import CaseDeliveryRow, CaseLineRow, PaymentRow
from dronedeal.store.ledger import LedgerTransferRow
from dronedeal.store.log import tree_size
from dronedeal.store.master import AgreementRow, OrderRow, PartyRow
from dronedeal.store.tallies import ACCEPTED, REJECTED, SHIPPED

#: how many ids one `IN (…)` look-up carries
LOOKUP_CHUNK: Final = 4_000
#: `session.info` key of `once_per_state`'s figures
_MEMO: Final = "dronedeal.reports.once_per_state"

_T = TypeVar("_T")


def order_batches(session: Session, agreement_id: str, signed_on: dt.date) -> list[Batch]:
    """One batch per order of the agreement, dated `signed_on` (its conversion date)."""
    query = (select(OrderRow.flow_id, OrderRow.currency, OrderRow.quantity, OrderRow.unit_price)
             .where(OrderRow.agreement_id == agreement_id)
             .order_by(OrderRow.order_id))
    return [Batch(flow_id, signed_on, currency, int(quantity), int(quantity) * int(price))
            for flow_id, currency, quantity, price in session.execute(query).all()]


def case_line_batches(session: Session, agreement_id: str, signed_on: dt.date) -> list[Batch]:
    """One batch per case line of the agreement, dated `signed_on`."""
    query = (select(CaseLineRow.flow_id, CaseLineRow.currency, CaseLineRow.quantity,
                    CaseLineRow.unit_price)
             .where(CaseLineRow.agreement_id == agreement_id)
             .order_by(CaseLineRow.case_id, CaseLineRow.line))
    return [Batch(flow_id, signed_on, currency, int(quantity), int(quantity) * int(price))
            for flow_id, currency, quantity, price in session.execute(query).all()]


@dataclass(frozen=True, slots=True)
class UnitBatches:
    """Shipped units per (flow, lot, shipped_on, currency); accepted and rejected units
    per (flow, lot, inspected_on, currency); values Σ order unit_price. Lots priced in
    the agreement currency come summed per (flow, day): see `_unit_batches`."""

    shipped: list[Batch]
    accepted: list[Batch]
    rejected: list[Batch]
    #: accepted units per (flow, product, day), from the same rows (deliveries by category)
    accepted_units: dict[tuple[str, str, dt.date], int]


def once_per_state(session: Session, key: tuple[Hashable, ...], compute: Callable[[], _T]
                   ) -> _T:
    """`compute()`, done once per session and state of the log: a page that needs the
    same figures twice (the position and the deliveries per month both need the accepted
    batches; the position and the settlement both need the balances) computes them
    once. Every record that changes a figure is a log leaf, so the key holds the tree
    size and a grown log computes again. Lives as long as the session (one request)."""
    memo: dict[tuple[Hashable, ...], Any] = session.info.setdefault(_MEMO, {})
    full = (tree_size(session), *key)
    if full not in memo:
        memo[full] = compute()
    found: _T = memo[full]
    return found


def computed_per_state(session: Session, key: tuple[Hashable, ...]) -> bool:
    """Whether `once_per_state(session, key, …)` has its figures already (no reading)."""
    memo: dict[tuple[Hashable, ...], Any] = session.info.get(_MEMO, {})
    return (tree_size(session), *key) in memo


def unit_batches(session: Session, agreement_id: str, as_of: dt.date,
                 events: Iterable[str] = (SHIPPED, ACCEPTED, REJECTED)) -> UnitBatches:
    """The agreement's units shipped and inspected on or before `as_of`, in batches (of
    `events` only; the others come back empty), read once per session and log state.
    """
    wanted = frozenset(events)
    every = once_per_state(session, ("unit_batches", agreement_id, as_of),
                           lambda: _unit_batches(session, agreement_id, as_of))
    return UnitBatches(every.shipped if SHIPPED in wanted else [],
                       every.accepted if ACCEPTED in wanted else [],
                       every.rejected if REJECTED in wanted else [],
                       every.accepted_units if ACCEPTED in wanted else {})


def _unit_batches(session: Session, agreement_id: str, as_of: dt.date) -> UnitBatches:
    """The agreement's units shipped and inspected on or before `as_of`, in batches.

    Read from `unit_tally` (units per lot, order, event and day, kept by the import),
    priced by their order, and summed here per (flow, lot, event, day, currency): a few
    rows per lot, never the units. The tally rows are nearly one per batch already (a
    lot ships one order of one product), so they are summed in a dict rather than by a
    SQL GROUP BY, which would sort them all. Lots priced in the agreement's own
    currency are summed per (flow, event, day) instead: their conversion is the
    identity, so no rounding can tell one lot from another, and the figures are the
    same to the minor unit with far fewer batches to convert. A unit is inspected on or
    after it is shipped, so counting inspections dated on or before `as_of` counts only
    units shipped by then.
    """
    query = (select(OrderRow.order_id, OrderRow.flow_id, OrderRow.currency,
                    OrderRow.unit_price, AgreementRow.currency)
             .join(AgreementRow, AgreementRow.agreement_id == OrderRow.agreement_id)
             .where(OrderRow.agreement_id == agreement_id))
    # order -> (flow, currency, unit price, whether its lots keep apart: a foreign currency)
    orders = {order_id: (flow_id, currency, int(price), currency != own) for
              order_id, flow_id, currency, price, own in session.connection().execute(query).all()}
    sums: dict[tuple[str, str, str, Any, str], list[int]] = {}
    by_product: dict[tuple[str, str, Any], int] = {}
    for event, order_id, product_id, lot_id, day, units in _tally_rows(session, agreement_id,
                                                                       as_of):
        flow_id, currency, price, apart = orders[order_id]
        key = (event, flow_id, lot_id if apart else "", day, currency)
        found = sums.get(key)
        if found is None:
            sums[key] = [units, units * price]
        else:
            found[0] += units
            found[1] += units * price
        if event == ACCEPTED:
            product_day = (flow_id, product_id, day)
            by_product[product_day] = by_product.get(product_day, 0) + units
    days: dict[Any, dt.date] = {}
    # in no particular order: a batch is converted and summed alone
    batches: dict[str, list[Batch]] = {SHIPPED: [], ACCEPTED: [], REJECTED: []}
    for (event, flow_id, _lot, day, currency), (units, value) in sums.items():
        assert event in batches, f"unit tally event {event!r}"
        on = days.get(day)
        if on is None:
            on = days[day] = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        batches[event].append(Batch(flow_id, on, currency, int(units), int(value)))
    accepted_units = {(flow_id, product_id, days[day]): int(units)
                      for (flow_id, product_id, day), units in by_product.items()}
    return UnitBatches(batches[SHIPPED], batches[ACCEPTED], batches[REJECTED], accepted_units)


def _tally_rows(session: Session, agreement_id: str, as_of: dt.date
                ) -> list[tuple[str, str, str, str, Any, int]]:
    """(event, order_id, product_id, lot_id, day, units) of the agreement's tally rows
    dated on or before `as_of`, fetched by the driver's own cursor: the rows a position
    reads most,
    as plain tuples (the day as the driver gives it: ISO text on SQLite, a date on
    PostgreSQL)."""
    sqlite = is_sqlite(session)
    mark = "?" if sqlite else "%s"
    driver: Any = session.connection().connection.driver_connection
    cursor = driver.cursor()
    try:
        cursor.execute(
            "SELECT t.event, t.order_id, t.product_id, t.lot_id, t.day, t.units "
            "FROM unit_tally t "
            f"WHERE t.order_id IN (SELECT o.order_id FROM purchase_order o "
            f"WHERE o.agreement_id = {mark}) AND t.day <= {mark}",
            (agreement_id, as_of.isoformat() if sqlite else as_of))
        rows: list[tuple[str, str, str, str, Any, int]] = cursor.fetchall()
    finally:
        cursor.close()
    return rows


def delivery_batches(session: Session, agreement_id: str, as_of: dt.date) -> list[Batch]:
    """One batch per case delivery of the agreement (converted one by one, as posted)."""
    query = (
        select(CaseLineRow.flow_id, CaseDeliveryRow.delivered_on, CaseLineRow.currency,
               CaseDeliveryRow.quantity, CaseLineRow.unit_price)
        .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                CaseDeliveryRow.line == CaseLineRow.line))
        .where(CaseLineRow.agreement_id == agreement_id, CaseDeliveryRow.delivered_on <= as_of)
        .order_by(CaseDeliveryRow.delivery_id)
    )
    return [Batch(flow_id, on, currency, int(quantity), int(quantity) * int(price))
            for flow_id, on, currency, quantity, price in session.execute(query).all()]


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """A payment of the agreement with what a flow's `paid` needs to know of its payee."""

    payer_id: str
    payee_country: str | None
    payee_kind: str | None
    currency: str
    amount: int
    paid_on: dt.date


def payments(session: Session, agreement_id: str, as_of: dt.date) -> list[PaymentFacts]:
    """The agreement's payments dated on or before `as_of`, with their payee's country
    and kind (None for a payee the store does not know)."""
    query = (
        select(PaymentRow.payer_id, PartyRow.country, PartyRow.kind, PaymentRow.currency,
               PaymentRow.amount, PaymentRow.paid_on)
        .outerjoin(PartyRow, PaymentRow.payee_id == PartyRow.party_id)
        .where(PaymentRow.agreement_id == agreement_id, PaymentRow.paid_on <= as_of)
        .order_by(PaymentRow.payment_id)
    )
    return [PaymentFacts(payer, country, kind, currency, int(amount), on)
            for payer, country, kind, currency, amount, on in session.execute(query).all()]


def party_profiles(session: Session, party_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """party id -> (country, kind) for the parties among `party_ids` that the store knows."""
    wanted = sorted(set(party_ids))
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(wanted), LOOKUP_CHUNK):
        chunk = wanted[start:start + LOOKUP_CHUNK]
        query = (select(PartyRow.party_id, PartyRow.country, PartyRow.kind)
                 .where(PartyRow.party_id.in_(chunk)))
        for party_id, country, kind in session.execute(query):
            found[party_id] = (country, kind)
    return found


def balance_changes(session: Session, agreement_id: str, as_of: dt.date
                    ) -> list[tuple[dt.date, str, int]]:
    """(day, party, Σ credits − Σ debits of that day) of the agreement's transfers dated
    on or before `as_of`, by day and party: what a party's ledger balance changed by
    each day, in one pass over the ledger (the balance history asks for dozens of
    dates). SQL sums the transfers per (day, creditor, debtor) in one scan of the
    agreement's transfers; each sum is then a credit of one party and a debit of the
    other."""
    t = LedgerTransferRow
    # the day as the driver gives it (ISO text on SQLite, a date on PostgreSQL), each
    # distinct one converted once: SQLAlchemy's per-row date parsing cost more than
    # the query on a large deal
    raw_day = type_coerce(t.event_date, String)
    query = (select(raw_day, t.credit_party, t.debit_party, func.sum(t.amount))
             .where(t.agreement_id == agreement_id, t.event_date <= as_of)
             .group_by(t.event_date, t.credit_party, t.debit_party))
    days: dict[Any, dt.date] = {}
    changes: dict[tuple[dt.date, str], int] = {}
    for stored_day, creditor, debtor, amount in session.connection().execute(query).all():
        day = days.get(stored_day)
        if day is None:
            day = days[stored_day] = (stored_day if isinstance(stored_day, dt.date)
                                      else dt.date.fromisoformat(stored_day))
        total = int(amount)
        changes[(day, creditor)] = changes.get((day, creditor), 0) + total
        changes[(day, debtor)] = changes.get((day, debtor), 0) - total
    return [(day, party_id, change) for (day, party_id), change in sorted(changes.items())]
