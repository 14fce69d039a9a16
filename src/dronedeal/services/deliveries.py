"""Import of a pack's event tables: cases, shipments, inspections, case deliveries, payments.

`import_events` runs inside the import's transaction, after the master tables, in the
dependency order cases → shipments → inspections → case_deliveries → payments. Each file
is streamed in batches (`pack.iter_batches`); per batch the rows are checked against the
master data, the store and the rows before them, written (rows, log leaves, license
draws) and forgotten. Only compact per-key state lives across batches: the
(manufacturer, serial) keys of this import with a packed int each, per-order and
per-license running totals, per-(lot, date) accepted units.

Invariants (SPEC §3):

- 4, atomicity: any refused row refuses the import: `RefusedError` with every error
  found (file, row, column, sentence), and the caller rolls the transaction back, so
  rows, leaves, draws and transfers of earlier batches vanish with it. After the first
  error nothing more is written; the rest of the file is still checked.
- 5, idempotency: a row whose key is stored with the same content is a no-op; with other
  content it is refused, naming what differs.
- 6: a serial is shipped at most once per manufacturer (the product's supplier): within
  the file by the key map, against the store by lookup, and against a concurrent import
  by the primary key (an IntegrityError becomes a RefusedError).
- 7: a shipment's order is for its product and has units left; a flow that needs a
  license names one that is valid on `shipped_on`, for the product, exporter and end
  user, with quantity and value left (drawn per lot through `draw_down_many`); the
  product has no blocking finding of the flow's rulesets on `shipped_on`. An
  inspection is of a shipped, not yet inspected serial, on or after `shipped_on`; an
  accepted unit's product has no blocking finding on `inspected_on`.
- Concurrency: the log's append lock is taken first (a PostgreSQL advisory lock; SQLite's
  `BEGIN IMMEDIATE` holds the database), so two event imports run one after the other
  and the second reads what the first committed; orders and licenses are also locked
  `FOR UPDATE` in id order.

Postings (SPEC §5) go through `services.ledger.post_transfers` after their table:
accepted units per (lot, inspection date), with the fund's contributions; each case
delivery; each payment; converted once at the event date's rate. A rejected unit posts
nothing. Every stored row names the log leaf that logged it and is the only copy of that
leaf's text: `store.events` renders it back from the row (a derived leaf kind).
"""

from __future__ import annotations

import bisect
import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, cast

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dronedeal.core import merkle
from dronedeal.core.canonical import canonical_json
from dronedeal.core.compliance import Decision
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.core.fx import MissingRateError, RateTable
from dronedeal.core.ledger import (
    Transfer,
    accept_lot,
    acceptance_transfer_id,
    case_delivery_transfer,
    payment_transfer,
)
from dronedeal.core.licenses import Draw
from dronedeal.core.money import format_amount
from dronedeal.core.note import NoteSigner
from dronedeal.core.records import Agreement, Flow, License, Order, Party, Product
from dronedeal.pack.batches import BATCH_ROWS, Batch
from dronedeal.pack.cells import quoted
from dronedeal.pack.sources import TableSource
from dronedeal.rules import RulesetLibrary
from dronedeal.services import audit
from dronedeal.services.compliance import ComplianceGate, compliance_gate
from dronedeal.services.ledger import MAX_BATCH, post_transfers
from dronedeal.services.licenses import DrawdownRefusedError, draw_down_many
from dronedeal.services.manifest_reader import (
    PROCESS_FROM_BYTES,
    LeafHasher,
    Lookup,
    ReadBatch,
    inspection_hasher,
    inspection_leaf,
    read_manifest,
    shipment_hasher,
    shipment_leaf_parts,
)
from dronedeal.store import compliance as license_store
from dronedeal.store import events as store
from dronedeal.store import ledger as ledger_store
from dronedeal.store import log, master, tallies

#: event tables in the order they are imported
EVENT_ORDER: Final = ("cases", "shipments", "inspections", "case_deliveries", "payments")
#: errors collected before the import stops reading
MAX_ERRORS: Final = 10_000
#: leaf kinds of event rows
LEAF_KINDS: Final = {"cases": "case_line", "shipments": "shipment",
                     "inspections": "inspection", "case_deliveries": "case_delivery",
                     "payments": "payment"}

_EPOCH: Final = dt.date(1970, 1, 1).toordinal()
_ROW_SHIFT: Final = 48
_GROUP_SHIFT: Final = 16
_INSPECTED: Final = 1 << 47
_GROUP_MASK: Final = (1 << 31) - 1
_DAY_MASK: Final = (1 << 16) - 1


@dataclass
class EventSummary:
    """What the event import wrote: rows per table (new and already stored), leaves and
    transfers."""

    created: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    leaves: int = 0
    transfers: int = 0
    tree_size: int | None = None


class _TooManyErrors(Exception):
    """The error budget is spent: stop reading."""


@dataclass
class _World:
    """Master data as the import sees it (after the pack's own master tables)."""

    parties: dict[str, Party]
    products: dict[str, Product]
    orders: dict[str, Order]
    licenses: dict[str, License]
    agreements: dict[str, Agreement]
    rates: RateTable

    @classmethod
    def load(cls, session: Session) -> _World:
        return cls(
            parties={p.party_id: p for p in master.load_parties(session)},
            products={p.product_id: p for p in master.load_products(session)},
            orders={o.order_id: o for o in master.load_orders(session)},
            licenses={lic.license_id: lic for lic in master.load_licenses(session)},
            agreements={a.agreement_id: a for a in master.load_agreements(session)},
            rates=RateTable(master.load_fx_rates(session)),
        )

    def flow(self, agreement_id: str, flow_id: str) -> Flow | None:
        agreement = self.agreements.get(agreement_id)
        if agreement is None:
            return None
        return next((f for f in agreement.flows if f.flow_id == flow_id), None)


def import_events(session: Session, sources: Mapping[str, TableSource], signer: NoteSigner,
                  *, library: RulesetLibrary | None = None,
                  process_from: int = PROCESS_FROM_BYTES,
                  batch_rows: int = BATCH_ROWS) -> EventSummary:
    """Import the event tables among `sources` (table -> where it is); RefusedError with
    every error, the caller rolling back. Runs after the master tables, same transaction.
    Files are read `batch_rows` rows at a time; a manifest (shipments, inspections) of at
    least `process_from` bytes is read by a second process (`manifest_reader`)."""
    present = [table for table in EVENT_ORDER if table in sources]
    summary = EventSummary()
    if not present:
        return summary
    log.lock_for_append(session)
    run = _Import(session, signer, _World.load(session), summary, library,
                  process_from=process_from, batch_rows=batch_rows)
    current = present[0]
    # The batches allocate millions of short-lived tuples while the import holds a large
    # key map: the cyclic collector would rescan everything over and over (a third of an
    # inspection import's time). The import makes no reference cycles of its own; the
    # collector runs again as soon as it ends.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for current in present:
            run.table(current, sources[current])
            if run.errors:
                break
    except _TooManyErrors:
        run.errors.append(RowError(sources[current].file, 0, "*",
                                   f"more than {MAX_ERRORS} errors; the rest of the file was "
                                   "not checked"))
    except IntegrityError as exc:
        raise RefusedError([RowError(
            sources[current].file, 0, "*",
            "another import stored some of these rows at the same time (a serial, "
            "inspection, case line, delivery or payment id is already taken); nothing of "
            "this pack was imported: import it again to see which rows are already stored "
            f"({type(exc.orig).__name__})")]) from exc
    finally:
        if collecting:
            gc.enable()
    if run.errors:
        raise RefusedError(sorted(run.errors))
    summary.tree_size = log.tree_size(session)
    return summary


class _Import:
    """One event import: the state shared by its tables."""

    def __init__(self, session: Session, signer: NoteSigner, world: _World,
                 summary: EventSummary, library: RulesetLibrary | None, *,
                 process_from: int = PROCESS_FROM_BYTES, batch_rows: int = BATCH_ROWS) -> None:
        self.session = session
        self.process_from = process_from
        self.batch_rows = batch_rows
        self.signer = signer
        self.world = world
        self.summary = summary
        self.library = library
        self.errors: list[RowError] = []
        #: "<manufacturer> <serial>" -> row << 48 | group << 16 | shipped_on (days since 1970)
        self.shipped: dict[str, int] = {}
        #: group index -> (lot_id, order_id, product_id) of shipments of this import
        self.groups: list[tuple[str, str, str]] = []
        self.group_index: dict[tuple[str, str, str], int] = {}
        self._gates: dict[tuple[str, str], ComplianceGate] = {}
        self._unchanged: dict[tuple[str, _ShipCombo], list[tuple[int, str, str]]] = {}
        self._decisions: dict[tuple[str, str, str, dt.date], Decision] = {}

    # -- shared helpers ---------------------------------------------------------------

    def table(self, table: str, source: TableSource) -> None:
        {"cases": self.cases, "shipments": self.shipments, "inspections": self.inspections,
         "case_deliveries": self.case_deliveries, "payments": self.payments}[table](source)

    def refuse(self, file: str, row: int, column: str, message: str) -> None:
        self.errors.append(RowError(file, row, column, message))
        if len(self.errors) >= MAX_ERRORS:
            raise _TooManyErrors

    def batches(self, source: TableSource) -> Iterator[tuple[list[int], list[tuple[Any, ...]]]]:
        for read in self.read(source, None):
            yield read.batch.rows, _typed(read.batch)

    def read(self, source: TableSource, hasher: LeafHasher | None,
             lookup: Lookup | None = None) -> Iterator[ReadBatch]:
        """The batches of `source` after their errors are noted, with each row's leaf hash
        and their log nodes when a second process read them (`manifest_reader`)."""
        for read in read_manifest(source, hasher, edge=lambda: audit.right_edge(self.session),
                                  lookup=lookup, process_from=self.process_from,
                                  size=self.batch_rows):
            for error in read.batch.errors:
                self.refuse(error.file, error.row, error.column, error.message)
            yield read

    def makers(self) -> dict[str, str]:
        """Product -> manufacturer (the product's supplier)."""
        return {product_id: product.supplier_id
                for product_id, product in self.world.products.items()}

    def decide(self, flow: Flow, agreement_id: str, product_id: str, on: dt.date) -> Decision:
        key = (agreement_id, flow.flow_id, product_id, on)
        decision = self._decisions.get(key)
        if decision is None:
            gate = self._gates.get((agreement_id, flow.flow_id))
            if gate is None:
                gate = compliance_gate(self.session, flow=flow, library=self.library)
                self._gates[(agreement_id, flow.flow_id)] = gate
            decision = self._decisions[key] = gate.decide(product_id, on)
        return decision

    def rate_problem(self, source: str, target: str, on: dt.date) -> str | None:
        try:
            self.world.rates.applied(source, target, on)
        except MissingRateError as missing:
            return str(missing)
        return None

    def append(self, table: str, leaves: Sequence[str]) -> int:
        """Append event leaves; the index of the first."""
        kind = LEAF_KINDS[table]
        result = audit.append_leaves(self.session, [(kind, text) for text in leaves],
                                     self.signer)
        assert result.tree_size - result.first_index == len(leaves), "one leaf per row"
        self.summary.leaves += len(leaves)
        return result.first_index

    def append_hashed(self, table: str, read: ReadBatch, leaf_rows: list[int]) -> int:
        """Append the event leaves of the rows `leaf_rows` of a batch the reader hashed
        (the rows about to be written hold their text); the index of the first."""
        assert read.hashes is not None, "the reader hashed the batch"
        result = audit.append_derived(
            self.session, LEAF_KINDS[table], _picked(read.batch.rows, read.hashes, leaf_rows),
            self.signer, prepared=read.prepared)
        self.summary.leaves += result.tree_size - result.first_index
        return result.first_index

    def post(self, transfers: Sequence[Transfer]) -> None:
        currencies = {a.agreement_id: a.currency for a in self.world.agreements.values()}
        for start in range(0, len(transfers), MAX_BATCH):
            result = post_transfers(self.session, transfers[start:start + MAX_BATCH],
                                    self.signer, currencies=currencies)
            self.summary.transfers += result.posted
            self.summary.leaves += result.posted

    def count(self, table: str, created: int, unchanged: int) -> None:
        self.summary.created[table] = self.summary.created.get(table, 0) + created
        self.summary.unchanged[table] = self.summary.unchanged.get(table, 0) + unchanged

    # -- shipments ----------------------------------------------------------------------

    def shipments(self, source: TableSource) -> None:
        file = source.file
        combos: dict[tuple[str, str, str | None, dt.date], _ShipCombo | tuple[str, str]] = {}
        stored_makers: dict[str, bool] = {}
        order_used: dict[str, int] = {}
        license_used: dict[str, list[int]] = {}
        lot_signature: dict[str, tuple[str, ...]] = {}
        created = unchanged = 0
        seen = self.shipped
        for read in self.read(source, shipment_hasher(self.makers())):
            rows, values, hashes = read.batch.rows, _typed(read.batch), read.hashes
            # 1. per row: the shared checks (once per product, order, license and date),
            #    the serial's key, and its group (lot and combo)
            groups: dict[tuple[str, _ShipCombo], list[tuple[int, str, str]]] = {}
            for row, (serial, product_id, lot_id, order_id, license_id, shipped_on) in zip(
                    rows, values, strict=True):
                key = (product_id, order_id, license_id, shipped_on)
                combo = combos.get(key)
                if combo is None:
                    combo = combos[key] = self._judge_shipment(*key)
                if isinstance(combo, tuple):
                    self.refuse(file, row, *combo)
                    continue
                unit = combo.prefix + serial
                first = seen.get(unit)
                if first is not None:
                    self.refuse(file, row, "serial", (
                        f"serial {quoted(serial)} of manufacturer {combo.maker} is on row "
                        f"{first >> _ROW_SHIFT} already; a serial ships once"))
                    continue
                seen[unit] = row << _ROW_SHIFT
                group = groups.get((lot_id, combo))
                if group is None:
                    group = groups[lot_id, combo] = []
                group.append((row, serial, unit))
            # 2. per group: the store (earlier shipments, lots, orders, licenses)
            self._drop_stored(file, groups, stored_makers)
            unchanged += sum(len(units) for units in self._unchanged.values())
            self._check_lots(file, groups, lot_signature)
            self._load_totals({combo for _, combo in groups}, order_used, license_used)
            # 3. per group: quantity and value left, then the writes
            rows_out: list[tuple[Any, ...]] = []
            leaves: list[str] = []  # their texts, when the reader did not hash them
            leaf_rows: list[int] = []
            draws: list[Draw] = []
            draw_rows: list[int] = []
            for (lot_id, combo), units in groups.items():
                kept = self._fit_order(file, combo, units, order_used) if units else units
                if combo.license is not None and kept:
                    kept, draw = self._fit_license(file, lot_id, combo, kept, license_used)
                    if draw is not None:
                        draws.append(draw)
                        draw_rows.append(kept[0][0])
                if len(kept) < len(units):
                    for _, _, unit in units[len(kept):]:
                        seen.pop(unit, None)
                group_index = self._group(lot_id, combo.order.order_id, combo.product_id)
                low = group_index << _GROUP_SHIFT | (combo.shipped_on.toordinal() - _EPOCH)
                for row, _, unit in kept:
                    seen[unit] = row << _ROW_SHIFT | low
                for row, _, unit in self._unchanged.get((lot_id, combo), ()):
                    seen[unit] = row << _ROW_SHIFT | low
                created += len(kept)
                if self.errors or not kept:
                    continue
                maker, product_id, order_id = combo.maker, combo.product_id, combo.order.order_id
                license_id, shipped_on = combo.license_id, combo.shipped_on
                if hashes is None:
                    head, tail = shipment_leaf_parts(
                        license_id=license_id, lot_id=lot_id, maker=maker, order_id=order_id,
                        product_id=product_id, day_text=combo.day_text)
                    leaves.extend([head + serial + tail for _, serial, _ in kept])
                else:
                    leaf_rows.extend([row for row, _, _ in kept])
                rows_out.extend([(maker, serial, product_id, lot_id, order_id, license_id,
                                  shipped_on) for _, serial, _ in kept])
            if self.errors or not rows_out:
                continue
            first_leaf = (self.append("shipments", leaves) if hashes is None else
                          self.append_hashed("shipments", read, leaf_rows))
            store.insert_shipments(self.session, rows_out, first_leaf)
            tallies.add_shipments(self.session, rows_out)
            if draws:
                try:
                    draw_down_many(self.session, draws)
                except DrawdownRefusedError as refused_draws:
                    for refusal in refused_draws.refusals:
                        self.refuse(file, draw_rows[refusal.index], "license_id",
                                    refusal.message)
        self.count("shipments", created if not self.errors else 0, unchanged)

    def _drop_stored(self, file: str,
                     groups: dict[tuple[str, _ShipCombo], list[tuple[int, str, str]]],
                     stored_makers: dict[str, bool]) -> None:
        """Take rows already stored out of their groups: the same content is a no-op
        (kept in `self._unchanged`), other content is refused."""
        self._unchanged = {}
        lookups: dict[str, list[str]] = defaultdict(list)
        for (_, combo), units in groups.items():
            maker = combo.maker
            stored = stored_makers.get(maker)
            if stored is None:
                stored = stored_makers[maker] = store.has_shipments(self.session, maker)
            if stored:
                lookups[maker].extend(serial for _, serial, _ in units)
        if not lookups:
            return
        found = {maker: store.shipments_of(self.session, maker, serials)
                 for maker, serials in lookups.items()}
        for (lot_id, combo), units in groups.items():
            earlier = found.get(combo.maker)
            if not earlier:
                continue
            mine = (combo.product_id, lot_id, combo.order.order_id, combo.license_id,
                    combo.shipped_on)
            fresh: list[tuple[int, str, str]] = []
            for row, serial, unit in units:
                stored_row = earlier.get(serial)
                if stored_row is None:
                    fresh.append((row, serial, unit))
                elif stored_row == mine:
                    self._unchanged.setdefault((lot_id, combo), []).append((row, serial, unit))
                else:
                    del self.shipped[unit]
                    self.refuse(file, row, "serial", _differs(
                        f"serial {serial} of manufacturer {combo.maker} was shipped before",
                        ("product_id", "lot_id", "order_id", "license_id", "shipped_on"),
                        stored_row, mine))
            units[:] = fresh

    def _load_totals(self, combos: set[_ShipCombo], order_used: dict[str, int],
                     license_used: dict[str, list[int]]) -> None:
        """Lock orders and licenses met for the first time and read what they shipped
        and drew before this import."""
        new_orders = {c.order.order_id for c in combos} - order_used.keys()
        if new_orders:
            store.lock_orders(self.session, new_orders)
            order_used.update(dict.fromkeys(new_orders, 0))
            order_used.update(tallies.shipped_per_order(self.session, new_orders))
        new_licenses = {c.license.license_id for c in combos
                        if c.license is not None} - license_used.keys()
        if new_licenses:
            license_store.lock_licenses(self.session, new_licenses)
            totals = license_store.drawn_totals(self.session, new_licenses)
            for license_id in new_licenses:
                license_used[license_id] = list(totals.get(license_id, (0, 0)))

    def _group(self, lot_id: str, order_id: str, product_id: str) -> int:
        key = (lot_id, order_id, product_id)
        index = self.group_index.get(key)
        if index is None:
            index = self.group_index[key] = len(self.groups)
            assert index <= _GROUP_MASK, "too many lots in one import"
            self.groups.append(key)
        return index

    def _judge_shipment(self, product_id: str, order_id: str, license_id: str | None,
                        shipped_on: dt.date) -> _ShipCombo | tuple[str, str]:
        """The checks that depend only on product, order, license and date, as a combo to
        share across rows, or (column, message) when the rows are refused."""
        world = self.world
        product = world.products.get(product_id)
        if product is None:
            return "product_id", f"no product {quoted(product_id)}; import it first"
        order = world.orders.get(order_id)
        if order is None:
            return "order_id", f"no order {quoted(order_id)}; import it first"
        if order.product_id != product_id:
            return "product_id", (f"order {order_id} is for product {order.product_id}, not "
                                  f"{product_id}; ship each product on its own order")
        flow = world.flow(order.agreement_id, order.flow_id)
        assert flow is not None, f"order {order_id} names a flow the store holds"
        lic: License | None = None
        if license_id is None:
            if flow.license_required:
                return "license_id", (f"flow {flow.flow_id} needs an export license; name "
                                      "the license that covers this shipment")
        else:
            lic = world.licenses.get(license_id)
            if lic is None:
                return "license_id", f"no license {quoted(license_id)}; import it first"
            problem = _license_problem(lic, product, flow, shipped_on)
            if problem:
                return "license_id", problem
            if lic.currency != order.currency:
                missing = self.rate_problem(order.currency, lic.currency, shipped_on)
                if missing:
                    return "shipped_on", (f"{missing} (license {license_id} is drawn in "
                                          f"{lic.currency})")
        decision = self.decide(flow, order.agreement_id, product_id, shipped_on)
        if not decision.allowed:
            return "product_id", decision.explain()
        return _ShipCombo(product.supplier_id, product.supplier_id + " ", product_id, order,
                          flow, lic, shipped_on, shipped_on.isoformat())

    def _check_lots(self, file: str,
                    groups: dict[tuple[str, _ShipCombo], list[tuple[int, str, str]]],
                    signatures: dict[str, tuple[str, ...]]) -> None:
        """A lot ships for one agreement, flow, buyer, supplier and currency (its
        acceptance is one transfer); the lot id may already be in the store."""
        new_lots = {lot_id for lot_id, _ in groups} - signatures.keys()
        if new_lots:
            for lot_id, order_id in store.lot_orders(self.session, new_lots).items():
                order = self.world.orders.get(order_id)
                if order is not None:
                    signatures[lot_id] = _signature(order)
        for (lot_id, combo), units in groups.items():
            if not units:
                continue
            mine = _signature(combo.order)
            known = signatures.setdefault(lot_id, mine)
            if known != mine:
                for row, _, unit in units:
                    self.shipped.pop(unit, None)
                    self.refuse(file, row, "lot_id", (
                        f"lot {lot_id} already holds units of agreement {known[0]}, flow "
                        f"{known[1]}, buyer {known[2]}, supplier {known[3]} in {known[4]}; "
                        "a lot is accepted as one transfer, so give these units their own "
                        "lot id"))
                units.clear()

    def _fit_order(self, file: str, combo: _ShipCombo, units: list[tuple[int, str, str]],
                   order_used: dict[str, int]) -> list[tuple[int, str, str]]:
        order = combo.order
        used = order_used[order.order_id]
        left = order.quantity - used
        if len(units) <= left:
            order_used[order.order_id] = used + len(units)
            return units
        keep = max(left, 0)
        order_used[order.order_id] = used + keep
        self.refuse(file, units[keep][0], "order_id", (
            f"order {order.order_id} is for {order.quantity} units and {used + keep} are "
            f"shipped before this row; this row and {len(units) - keep - 1} more of the order in "
            "this lot would ship more than was ordered"))
        return units[:keep]

    def _fit_license(self, file: str, lot_id: str, combo: _ShipCombo,
                     units: list[tuple[int, str, str]], license_used: dict[str, list[int]]
                     ) -> tuple[list[tuple[int, str, str]], Draw | None]:
        lic = combo.license
        assert lic is not None
        order = combo.order
        used = license_used[lic.license_id]

        def value(count: int) -> int:
            return self.world.rates.convert(count * order.unit_price, order.currency,
                                            lic.currency, combo.shipped_on)

        keep = len(units)
        quantity_left = lic.max_quantity - used[0]
        if keep > quantity_left:
            keep = max(quantity_left, 0)
            self.refuse(file, units[keep][0], "license_id", (
                f"license {lic.license_id} has {keep} of {lic.max_quantity} units left; this "
                f"row and {len(units) - keep - 1} more of lot {lot_id} would ship beyond it"))
        value_left = lic.max_value - used[1]
        if keep and value(keep) > value_left:
            fits = max(bisect.bisect_right(range(keep + 1), value_left, key=value) - 1, 0)
            self.refuse(file, units[fits][0], "license_id", (
                f"license {lic.license_id} has {format_amount(max(value_left, 0), lic.currency)} "
                f"{lic.currency} of {format_amount(lic.max_value, lic.currency)} left; with "
                f"this row lot {lot_id} would be worth "
                f"{format_amount(value(fits + 1), lic.currency)} {lic.currency}"))
            keep = fits
        kept = units[:keep]
        if not kept:
            return kept, None
        drawn = value(keep)
        used[0] += keep
        used[1] += drawn
        return kept, Draw(lic.license_id, combo.product_id, combo.maker,
                          combo.flow.end_user_id, combo.shipped_on, keep, drawn,
                          f"shp:{lot_id}:{combo.day_text}:{kept[0][1]}")

    # -- inspections ----------------------------------------------------------------------

    def inspections(self, source: TableSource) -> None:
        file = source.file
        world = self.world
        shipped = self.shipped
        groups = self.groups
        inspected_elsewhere: dict[str, int] = {}  # units shipped by earlier imports -> row
        #: (lot, order, product, inspected_on) -> accepted units, for the postings
        tally: dict[tuple[str, str, str, dt.date], int] = {}
        verdicts: dict[tuple[str, str, dt.date], tuple[str, str] | None] = {}
        #: product -> (key prefix, manufacturer, whether the store holds inspections of it)
        makers: dict[str, tuple[str, str, bool]] = {}
        days: dict[int, dt.date] = {}
        day_texts: dict[dt.date, str] = {}
        created = unchanged = 0
        database = store.lookup_database(self.session)
        lookup = None if database is None else Lookup(database, self.makers())
        for read in self.read(source, inspection_hasher(self.makers()), lookup):
            rows, values, hashes = read.batch.rows, _typed(read.batch), read.hashes
            # 1. per row: the product's manufacturer, the unit's key, a second inspection
            #    of it in this import, and the look-ups the store must answer
            candidates: list[tuple[int, tuple[Any, ...], str, str, int | None]] = []
            ship_lookups: dict[str, list[str]] = defaultdict(list)
            done_lookups: dict[str, list[str]] = defaultdict(list)
            for row, value in zip(rows, values, strict=True):
                serial, product_id = value[0], value[1]
                known = makers.get(product_id)
                if known is None:
                    product = world.products.get(product_id)
                    if product is None:
                        self.refuse(file, row, "product_id",
                                    f"no product {quoted(product_id)}; import it first")
                        continue
                    maker = product.supplier_id
                    known = makers[product_id] = (maker + " ", maker,
                                                  store.has_inspections(self.session, maker))
                prefix, maker, inspected_before = known
                unit = prefix + serial
                packed = shipped.get(unit)
                first: int | None = None
                if packed is None:
                    ship_lookups[maker].append(serial)
                    earlier_row = inspected_elsewhere.setdefault(unit, row)
                    if earlier_row != row:
                        first = earlier_row
                elif packed & _INSPECTED:
                    first = packed >> _ROW_SHIFT
                else:  # keep lot and date, remember this row as the unit's inspection
                    shipped[unit] = row << _ROW_SHIFT | _INSPECTED | packed & (_INSPECTED - 1)
                if first is not None:
                    self.refuse(file, row, "serial", (
                        f"serial {quoted(serial)} of manufacturer {maker} is inspected on row "
                        f"{first} already; a unit is inspected once"))
                    continue
                candidates.append((row, value, maker, unit, packed))
                if inspected_before:
                    done_lookups[maker].append(serial)
            # 2. the store: shipments of earlier imports, inspections already stored
            stored_lots = read.stored_lots() or {}
            earlier = {maker: stored_lots[maker] if maker in stored_lots else
                       store.shipped_lots_of(self.session, maker, serials)
                       for maker, serials in ship_lookups.items()}
            done = {maker: store.inspections_of(self.session, maker, serials)
                    for maker, serials in done_lookups.items()}
            # 3. per row: the unit's shipment, dates, acceptance; the writes
            writes: list[tuple[Any, ...]] = []
            lots: list[tuple[str, str]] = []  # (lot, order) of each write, for the tally
            leaves: list[str] = []  # their texts, when the reader did not hash them
            leaf_rows: list[int] = []
            for row, (serial, product_id, result, reason, inspected_on), maker, unit, packed in (
                    candidates):
                if packed is not None:
                    lot_id, order_id, shipped_product = groups[
                        packed >> _GROUP_SHIFT & _GROUP_MASK]
                    shipped_on = days.get(packed & _DAY_MASK)
                    if shipped_on is None:
                        shipped_on = days[packed & _DAY_MASK] = dt.date.fromordinal(
                            (packed & _DAY_MASK) + _EPOCH)
                else:
                    stored_shipment = earlier[maker].get(serial)
                    if stored_shipment is None:
                        inspected_elsewhere.pop(unit, None)
                        self.refuse(file, row, "serial", (
                            f"serial {quoted(serial)} of manufacturer {maker} (product "
                            f"{product_id}) was never shipped; import its shipment first"))
                        continue
                    shipped_product, lot_id, order_id, shipped_on = stored_shipment
                if shipped_product != product_id:
                    self.refuse(file, row, "product_id", (
                        f"serial {serial} of manufacturer {maker} was shipped as product "
                        f"{shipped_product}, not {product_id}"))
                    continue
                if done:
                    stored_inspection = done.get(maker, {}).get(serial)
                    if stored_inspection is not None:
                        mine = (product_id, result, reason, inspected_on)
                        if stored_inspection == mine:
                            unchanged += 1
                        else:
                            self.refuse(file, row, "serial", _differs(
                                f"serial {serial} of manufacturer {maker} was inspected before",
                                ("product_id", "result", "reason", "inspected_on"),
                                stored_inspection, mine))
                        continue
                if inspected_on < shipped_on:
                    self.refuse(file, row, "inspected_on", (
                        f"{inspected_on.isoformat()} is before the unit was shipped "
                        f"({shipped_on.isoformat()}); a unit is inspected on or after its "
                        "shipping date"))
                    continue
                if result == "accepted":
                    key = (lot_id, order_id, product_id, inspected_on)
                    count = tally.get(key)
                    if count is None:  # the first unit of its kind: may it be accepted?
                        verdict_key = (order_id, product_id, inspected_on)
                        if verdict_key not in verdicts:
                            verdicts[verdict_key] = self._acceptable(*verdict_key)
                        verdict = verdicts[verdict_key]
                        if verdict is not None:
                            self.refuse(file, row, *verdict)
                            continue
                        count = 0
                    tally[key] = count + 1
                created += 1
                if self.errors:
                    continue
                if hashes is None:
                    day_text = day_texts.get(inspected_on)
                    if day_text is None:
                        day_text = day_texts[inspected_on] = inspected_on.isoformat()
                    leaves.append(inspection_leaf(serial, maker=maker, product_id=product_id,
                                                  result=result, reason=reason,
                                                  day_text=day_text))
                else:
                    leaf_rows.append(row)
                writes.append((maker, serial, product_id, result, reason, inspected_on))
                lots.append((lot_id, order_id))
            if self.errors or not writes:
                continue
            first_leaf = (self.append("inspections", leaves) if hashes is None else
                          self.append_hashed("inspections", read, leaf_rows))
            store.insert_inspections(self.session, writes, first_leaf)
            tallies.add_inspections(self.session, writes, lots)
        self.count("inspections", created if not self.errors else 0, unchanged)
        if self.errors or not tally:
            return
        accepted: dict[tuple[str, dt.date], dict[str, int]] = {}
        for (lot_id, order_id, _product, day), units in tally.items():
            per_order = accepted.setdefault((lot_id, day), {})
            per_order[order_id] = per_order.get(order_id, 0) + units
        self.post(self._acceptances(accepted))

    def _acceptable(self, order_id: str, product_id: str, on: dt.date
                    ) -> tuple[str, str] | None:
        """Why a unit of `order_id` cannot be accepted on `on`: a blocking finding of its
        flow's rulesets, or no rate to post its value; None when it can."""
        world = self.world
        order = world.orders[order_id]
        flow = world.flow(order.agreement_id, order.flow_id)
        assert flow is not None, f"order {order_id} names a flow the store holds"
        decision = self.decide(flow, order.agreement_id, product_id, on)
        if not decision.allowed:
            return "result", (f"the unit cannot be accepted: {decision.explain()}; reject it "
                              "with a reason instead")
        currency = world.agreements[order.agreement_id].currency
        missing = self.rate_problem(order.currency, currency, on)
        if missing:
            return "inspected_on", (f"{missing} (accepted units of order {order_id} post in "
                                    f"{currency} at the inspection date's rate)")
        return None

    def _acceptances(self, accepted: Mapping[tuple[str, dt.date], Mapping[str, int]]
                     ) -> list[Transfer]:
        """Acceptance and fund transfers per (lot, date). A lot accepted on a date by an
        earlier import too gets its own part: `acc:<lot>:<n>:<date>` from n = 2."""
        world = self.world
        keys = sorted(accepted)
        taken = set(ledger_store.posted_transfers(
            self.session, [acceptance_transfer_id(lot, day) for lot, day in keys]))
        transfers: list[Transfer] = []
        for lot_id, day in keys:
            lot_key = lot_id
            part = 1
            while acceptance_transfer_id(lot_key, day) in taken:
                part += 1
                lot_key = f"{lot_id}:{part}"
                if part == 2 or part % 16 == 0:
                    taken.update(ledger_store.posted_transfers(self.session, [
                        acceptance_transfer_id(f"{lot_id}:{n}", day)
                        for n in range(part, part + 16)]))
            units = [(world.orders[order_id], count)
                     for order_id, count in sorted(accepted[lot_id, day].items())]
            agreement = world.agreements[units[0][0].agreement_id]
            transfers.extend(accept_lot(agreement=agreement, lot_id=lot_key, inspected_on=day,
                                        accepted=units, rates=world.rates))
        return transfers

    # -- purchase cases -------------------------------------------------------------------

    def cases(self, source: TableSource) -> None:
        file = source.file
        stored = {(line.case_id, int(line.line)): line for line in store.case_lines(self.session)}
        seen: dict[tuple[str, int], int] = {}
        writes: list[dict[str, Any]] = []
        leaves: list[str] = []
        unchanged = 0
        for rows, values in self.batches(source):
            for row, value in zip(rows, values, strict=True):
                (case_id, line, agreement_id, flow_id, seller_id, buyer_id, description,
                 category, quantity, unit_price, currency) = value
                key = (case_id, line)
                if key in seen:
                    self.refuse(file, row, "*", (f"duplicate row for case_id {quoted(case_id)}, "
                                                 f"line {line}: row {seen[key]} has them "
                                                 "already; keep one of the rows"))
                    continue
                seen[key] = row
                problem = self._case_problem(agreement_id, flow_id, seller_id=seller_id,
                                             buyer_id=buyer_id, category=category,
                                             currency=currency)
                if problem:
                    self.refuse(file, row, *problem)
                    continue
                document = {"kind": "case_line", "case_id": case_id, "line": line,
                            "agreement_id": agreement_id, "flow_id": flow_id,
                            "seller_id": seller_id, "buyer_id": buyer_id,
                            "description": description, "category": category,
                            "quantity": quantity,
                            "unit_price": format_amount(unit_price, currency),
                            "currency": currency}
                previous = stored.get(key)
                if previous is not None:
                    old = (previous.agreement_id, previous.flow_id, previous.seller_id,
                           previous.buyer_id, previous.description, previous.category,
                           previous.quantity, previous.unit_price, previous.currency)
                    new = (agreement_id, flow_id, seller_id, buyer_id, description, category,
                           quantity, unit_price, currency)
                    if old == new:
                        unchanged += 1
                    else:
                        self.refuse(file, row, "*", _differs(
                            f"case {case_id} line {line} was imported before",
                            ("agreement_id", "flow_id", "seller_id", "buyer_id", "description",
                             "category", "quantity", "unit_price", "currency"), old, new))
                    continue
                leaves.append(canonical_json(document))
                writes.append({"case_id": case_id, "line": line, "agreement_id": agreement_id,
                               "flow_id": flow_id, "seller_id": seller_id, "buyer_id": buyer_id,
                               "description": description, "category": category,
                               "quantity": quantity, "unit_price": unit_price,
                               "currency": currency})
        self.count("cases", 0 if self.errors else len(writes), unchanged)
        if self.errors or not writes:
            return
        first_leaf = self.append("cases", leaves)
        for offset, write in enumerate(writes):
            write["leaf_index"] = first_leaf + offset
        store.insert_rows(self.session, store.CASE_LINE, writes)

    def _case_problem(self, agreement_id: str, flow_id: str, *, seller_id: str,
                      buyer_id: str, category: str, currency: str) -> tuple[str, str] | None:
        world = self.world
        agreement = world.agreements.get(agreement_id)
        if agreement is None:
            return "agreement_id", f"no agreement {quoted(agreement_id)}; import it first"
        flow = world.flow(agreement_id, flow_id)
        if flow is None:
            return "flow_id", (f"agreement {agreement_id} has no flow {quoted(flow_id)}; use one "
                               f"of: {', '.join(f.flow_id for f in agreement.flows)}")
        seller = world.parties.get(seller_id)
        if seller is None:
            return "seller_id", f"no party {quoted(seller_id)}; import it first"
        if buyer_id not in world.parties:
            return "buyer_id", f"no party {quoted(buyer_id)}; import it first"
        if buyer_id != flow.buyer_id:
            return "buyer_id", (f"flow {flow_id} is bought by {flow.buyer_id}, not {buyer_id}")
        if seller.country != flow.seller_country:
            return "seller_id", (f"{seller_id} is in {seller.country}, but flow {flow_id} buys "
                                 f"from {flow.seller_country}")
        if not flow.admits(category):
            return "category", (f"category {category} is not traded in flow {flow_id} "
                                f"({', '.join(flow.categories)})")
        missing = self.rate_problem(currency, agreement.currency, agreement.signed_on)
        if missing:
            return "currency", (f"{missing} (agreement {agreement_id} values case lines at its "
                                "signing date)")
        return None

    # -- case deliveries ------------------------------------------------------------------

    def case_deliveries(self, source: TableSource) -> None:
        file = source.file
        world = self.world
        lines = {(line.case_id, int(line.line)): line for line in store.case_lines(self.session)}
        delivered = store.delivered_units(self.session)
        seen: dict[str, int] = {}
        pending: list[tuple[int, tuple[Any, ...]]] = []
        for rows, values in self.batches(source):
            pending.extend(zip(rows, values, strict=True))
        stored = store.case_deliveries_by_id(self.session, [v[0] for _, v in pending])
        writes: list[dict[str, Any]] = []
        leaves: list[str] = []
        transfers: list[Transfer] = []
        unchanged = 0
        for row, (delivery_id, case_id, line_no, quantity, delivered_on) in pending:
            if delivery_id in seen:
                self.refuse(file, row, "delivery_id", (
                    f"duplicate delivery_id {quoted(delivery_id)}: row {seen[delivery_id]} has "
                    "it already; keep one of the rows or give this one another id"))
                continue
            seen[delivery_id] = row
            previous = stored.get(delivery_id)
            mine = (case_id, line_no, quantity, delivered_on)
            if previous is not None:
                old = (previous.case_id, int(previous.line), int(previous.quantity),
                       previous.delivered_on)
                if old == mine:
                    unchanged += 1
                else:
                    self.refuse(file, row, "delivery_id", _differs(
                        f"delivery {delivery_id} was imported before",
                        ("case_id", "line", "quantity", "delivered_on"), old, mine))
                continue
            line = lines.get((case_id, line_no))
            if line is None:
                self.refuse(file, row, "line", (f"case {case_id} has no line {line_no}; import "
                                                "the case line first"))
                continue
            done = delivered.get((case_id, line_no), 0)
            if done + quantity > line.quantity:
                self.refuse(file, row, "quantity", (
                    f"case {case_id} line {line_no} is for {line.quantity} units and "
                    f"{done} are delivered before this row; {quantity} more would deliver "
                    "beyond the line"))
                continue
            agreement = world.agreements[line.agreement_id]
            missing = self.rate_problem(line.currency, agreement.currency, delivered_on)
            if missing:
                self.refuse(file, row, "delivered_on", (
                    f"{missing} (case deliveries post in {agreement.currency} at the delivery "
                    "date's rate)"))
                continue
            delivered[(case_id, line_no)] = done + quantity
            transfer = case_delivery_transfer(
                agreement=agreement, delivery_id=delivery_id, buyer_id=line.buyer_id,
                seller_id=line.seller_id, quantity=quantity, unit_price=line.unit_price,
                currency=line.currency, delivered_on=delivered_on, rates=world.rates)
            if transfer is not None:
                transfers.append(transfer)
            leaves.append(canonical_json({
                "kind": "case_delivery", "delivery_id": delivery_id, "case_id": case_id,
                "line": line_no, "quantity": quantity,
                "delivered_on": delivered_on.isoformat()}))
            writes.append({"delivery_id": delivery_id, "case_id": case_id, "line": line_no,
                           "quantity": quantity, "delivered_on": delivered_on})
        self.count("case_deliveries", 0 if self.errors else len(writes), unchanged)
        if self.errors or not writes:
            return
        first_leaf = self.append("case_deliveries", leaves)
        for offset, write in enumerate(writes):
            write["leaf_index"] = first_leaf + offset
        store.insert_rows(self.session, store.CASE_DELIVERY, writes)
        self.post(transfers)

    # -- payments -------------------------------------------------------------------------

    def payments(self, source: TableSource) -> None:
        file = source.file
        world = self.world
        pending: list[tuple[int, tuple[Any, ...]]] = []
        for rows, values in self.batches(source):
            pending.extend(zip(rows, values, strict=True))
        stored = store.payments_by_id(self.session, [v[0] for _, v in pending])
        members = self._agreement_parties()
        seen: dict[str, int] = {}
        writes: list[dict[str, Any]] = []
        leaves: list[str] = []
        transfers: list[Transfer] = []
        unchanged = 0
        for row, (payment_id, agreement_id, payer_id, payee_id, amount, currency, paid_on,
                  reference) in pending:
            if payment_id in seen:
                self.refuse(file, row, "payment_id", (
                    f"duplicate payment_id {quoted(payment_id)}: row {seen[payment_id]} has it "
                    "already; keep one of the rows or give this one another id"))
                continue
            seen[payment_id] = row
            mine = (agreement_id, payer_id, payee_id, amount, currency, paid_on, reference)
            previous = stored.get(payment_id)
            if previous is not None:
                old = (previous.agreement_id, previous.payer_id, previous.payee_id,
                       int(previous.amount), previous.currency, previous.paid_on,
                       previous.reference)
                if old == mine:
                    unchanged += 1
                else:
                    self.refuse(file, row, "payment_id", _differs(
                        f"payment {payment_id} was imported before",
                        ("agreement_id", "payer_id", "payee_id", "amount", "currency",
                         "paid_on", "reference"), old, mine))
                continue
            agreement = world.agreements.get(agreement_id)
            if agreement is None:
                self.refuse(file, row, "agreement_id",
                            f"no agreement {quoted(agreement_id)}; import it first")
                continue
            parties = members.get(agreement_id, set())
            problem = None
            for column, party_id in (("payer_id", payer_id), ("payee_id", payee_id)):
                if party_id not in parties:
                    problem = (column, (
                        f"{party_id} is not a party of agreement {agreement_id} (its flows' "
                        "buyers and end users, the suppliers of its orders, the sellers and "
                        "buyers of its cases, its fund)"))
                    break
            if problem is None and payer_id == payee_id:
                problem = ("payee_id", f"{payer_id} cannot pay itself")
            if problem is not None:
                self.refuse(file, row, *problem)
                continue
            missing = self.rate_problem(currency, agreement.currency, paid_on)
            if missing:
                self.refuse(file, row, "paid_on", (
                    f"{missing} (payments post in {agreement.currency} at the payment date's "
                    "rate)"))
                continue
            transfer = payment_transfer(
                agreement=agreement, payment_id=payment_id, payer_id=payer_id,
                payee_id=payee_id, amount=amount, currency=currency, paid_on=paid_on,
                rates=world.rates)
            if transfer is not None:
                transfers.append(transfer)
            leaves.append(canonical_json({
                "kind": "payment", "payment_id": payment_id, "agreement_id": agreement_id,
                "payer_id": payer_id, "payee_id": payee_id,
                "amount": format_amount(amount, currency), "currency": currency,
                "paid_on": paid_on.isoformat(), "reference": reference}))
            writes.append({"payment_id": payment_id, "agreement_id": agreement_id,
                           "payer_id": payer_id, "payee_id": payee_id, "amount": amount,
                           "currency": currency, "paid_on": paid_on, "reference": reference})
        self.count("payments", 0 if self.errors else len(writes), unchanged)
        if self.errors or not writes:
            return
        first_leaf = self.append("payments", leaves)
        for offset, write in enumerate(writes):
            write["leaf_index"] = first_leaf + offset
        store.insert_rows(self.session, store.PAYMENT, writes)
        self.post(transfers)

    def _agreement_parties(self) -> dict[str, set[str]]:
        """Per agreement, who may pay or be paid: its flows' buyers and end users, the
        suppliers of its orders, the sellers and buyers of its cases, its fund."""
        members: dict[str, set[str]] = defaultdict(set)
        for agreement in self.world.agreements.values():
            parties = members[agreement.agreement_id]
            for flow in agreement.flows:
                parties.update((flow.buyer_id, flow.end_user_id))
            if agreement.fund is not None:
                parties.add(agreement.fund.party_id)
        for order in self.world.orders.values():
            members[order.agreement_id].update((order.supplier_id, order.buyer_id))
        for line in store.case_lines(self.session):
            members[line.agreement_id].update((line.seller_id, line.buyer_id))
        return members


@dataclass(frozen=True, slots=True, eq=False)
class _ShipCombo:
    """What every shipment row of one product, order, license and date shares."""

    maker: str
    prefix: str
    product_id: str
    order: Order
    flow: Flow
    license: License | None
    shipped_on: dt.date
    day_text: str

    @property
    def license_id(self) -> str | None:
        return None if self.license is None else self.license.license_id


def _first(item: tuple[Any, ...]) -> Any:
    return item[0]


def _signature(order: Order) -> tuple[str, ...]:
    return (order.agreement_id, order.flow_id, order.buyer_id, order.supplier_id,
            order.currency)


def _license_problem(lic: License, product: Product, flow: Flow, on: dt.date) -> str | None:
    name = f"license {lic.license_id}"
    if lic.product_id != product.product_id:
        return f"{name} covers product {lic.product_id}, not {product.product_id}"
    if lic.exporter_id != product.supplier_id:
        return (f"{name} is granted to exporter {lic.exporter_id}, not to "
                f"{product.supplier_id}, who makes {product.product_id}")
    if lic.end_user_id != flow.end_user_id:
        return (f"{name} names end user {lic.end_user_id}, but flow {flow.flow_id} delivers "
                f"to {flow.end_user_id}")
    if on < lic.valid_from:
        return (f"{name} is not valid yet on {on.isoformat()}: it is valid from "
                f"{lic.valid_from.isoformat()} to {lic.valid_to.isoformat()}")
    if on > lic.valid_to:
        return f"{name} expired on {lic.valid_to.isoformat()}; the shipment is dated {on}"
    return None


def _differs(what: str, names: Iterable[str], old: Sequence[Any], new: Sequence[Any]) -> str:
    changes = [f"{name} {_shown(a)} then, {_shown(b)} now"
               for name, a, b in zip(names, old, new, strict=True) if a != b]
    return (f"{what} with other content ({'; '.join(changes)}); an event never changes: "
            "give a new event its own id")


def _shown(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _typed(batch: Batch) -> list[tuple[Any, ...]]:
    """A batch's values as the table's checks unpack them (typed by its spec)."""
    return cast(list[tuple[Any, ...]], batch.values)


def _picked(rows: list[int], hashes: bytes, leaf_rows: list[int]) -> bytes:
    """The leaf hashes of the rows `leaf_rows`, in that order, from the reader's `hashes`
    of a batch's `rows`."""
    if leaf_rows == rows:
        return hashes
    by_row = dict(zip(rows, merkle.split_hashes(hashes), strict=True))
    return b"".join([by_row[row] for row in leaf_rows])
