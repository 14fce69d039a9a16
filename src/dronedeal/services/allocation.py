"""Allocate a demand across manufacturers: read the demand, gather the store, solve.

`read_demand` reads a demand file (CSV, or the `demand` sheet of an XLSX workbook) with
the pack's `DEMAND` spec and refuses it with every row error. `allocate` loads what
the model needs — the flow, the catalog, each supplier's country, the flow's blocking
findings on the date (`compliance_gate`), the unshipped units of open orders by month
(`unshipped_by_month`), FX rates, the ordered value of the agreement — builds the
problem (`core.allocation`) and solves it with HiGHS (`HighsSolver`).

Invariants: nothing here writes pack data (the compliance gate may store evaluations,
a cache of what the rules say); the caller owns the transaction. Every solution that
comes back has passed `core.allocation.violations`. HiGHS proves optimality with
relative gap 0 and an absolute gap of half an agreement minor unit: optimal to the
cent of the agreement currency.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
from highspy import HighsModelStatus, HighsVarType, MatrixFormat, ObjSense, kHighsInf

# The public `highspy.Highs` installs a logging callback on construction, which prints
# HiGHS's banner on stdout before any option can turn it off; stdout is where the
# orders go. The core class it wraps has the same methods and no such side effect.
from highspy._core import _Highs
from sqlalchemy import select
from sqlalchemy.orm import Session

from dronedeal.core import allocation as model
from dronedeal.core.allocation import (
    MAX_LINES,
    AllocationResult,
    DemandLine,
    LinearModel,
    SolverError,
)
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.core.fx import RateTable
from dronedeal.core.records import Agreement, Flow
from dronedeal.pack import DEMAND, RawRow, TableSource, convert_row, iter_table
from dronedeal.pack.sources import WORKBOOK_ERRORS, unreadable_workbook
from dronedeal.rules import RulesetLibrary
from dronedeal.services.compliance import compliance_gate
from dronedeal.services.summary import ordered_value
from dronedeal.store import master
from dronedeal.store.master import OrderRow

#: a solve that has not proved its optimum after this long is an error, not an answer
TIME_LIMIT_SECONDS = 300.0
#: product ids per `IN (…)`
CHUNK = 4_000
#: HiGHS's tolerance on a MIP's objective, in agreement minor units
ABSOLUTE_GAP = 0.5


class UnknownFlowError(LookupError):
    """`--agreement` or `--flow` names nothing in the store (a usage error)."""


# --- the demand file ---------------------------------------------------------------------

def read_demand(path: Path, *, flow: Flow, currency: str) -> list[DemandLine]:
    """The lines of a demand file for `flow`; raises RefusedError with every error.

    A `max_unit_price` without a `currency` is in `currency` (the agreement's). A line
    of another flow, or of a category the flow does not trade, is an error.
    """
    source, problem = _demand_source(path)
    if problem is not None:
        raise RefusedError([problem])
    errors: list[RowError] = []
    lines: list[DemandLine] = []
    first_row: dict[str, int] = {}
    rows = 0
    for item in iter_table(source, DEMAND):
        if isinstance(item, RowError):
            errors.append(item)
            continue
        rows += 1
        if rows > MAX_LINES:
            errors.append(RowError(source.file, item.row, "*", f"a demand holds at most "
                                   f"{MAX_LINES} lines; split it into several files"))
            break
        parsed = _demand_line(source.file, item, flow, currency, first_row)
        if isinstance(parsed, DemandLine):
            lines.append(parsed)
        else:
            errors.extend(parsed)
    if not errors and not lines:
        errors.append(RowError(source.file, 0, "*", "the demand has no lines; add one row "
                                                    f"per line under the header: {DEMAND.header}"))
    if errors:
        raise RefusedError(sorted(errors, key=lambda e: e.row))
    return lines


def _demand_source(path: Path) -> tuple[TableSource, RowError | None]:
    suffix = path.suffix.lower()
    source = TableSource("demand", path)
    if suffix == ".csv":
        return source, None
    if suffix != ".xlsx":
        return source, RowError(path.name, 0, "*", "a demand is a .csv file or an .xlsx "
                                                   "workbook with a sheet named \"demand\"")
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True)
        sheets = list(book.sheetnames)
        book.close()
    except WORKBOOK_ERRORS as exc:
        return source, RowError(path.name, 0, "*", unreadable_workbook(exc))
    if "demand" not in sheets:
        return source, RowError(path.name, 0, "*", f"the workbook has no sheet named "
                                                   f"\"demand\" (it has: {', '.join(sheets)})")
    return TableSource("demand", path, "demand"), None


def _demand_line(file: str, item: RawRow, flow: Flow, currency: str,
                 first_row: dict[str, int]) -> DemandLine | list[RowError]:
    raw = dict(item.values)
    if raw.get("max_unit_price") is not None and raw.get("currency") is None:
        raw["currency"] = currency
    values, problems = convert_row(DEMAND, raw)
    errors = [RowError(file, item.row, column, message) for column, message in problems]
    demand_id = raw.get("demand_id")
    if demand_id is not None:
        first = first_row.setdefault(demand_id, item.row)
        if first != item.row:
            errors.append(RowError(file, item.row, "demand_id",
                                   f"duplicate demand_id \"{demand_id}\": row {first} has it "
                                   "already; keep one of the rows or give this one another id"))
    if problems:
        return errors
    flow_id, category = values["flow_id"], values["category"]
    assert isinstance(flow_id, str)
    assert isinstance(category, str)
    if flow_id != flow.flow_id:
        errors.append(RowError(file, item.row, "flow_id",
                               f"flow_id \"{flow_id}\" is not the flow being allocated "
                               f"(--flow {flow.flow_id}); allocate one flow at a time"))
    elif not flow.admits(category):
        errors.append(RowError(file, item.row, "category",
                               f"category {category} is not traded in flow {flow.flow_id} "
                               f"({', '.join(flow.categories)})"))
    if errors:
        return errors
    quantity, due_on, price = values["quantity"], values["due_on"], values["max_unit_price"]
    assert isinstance(demand_id, str)
    assert isinstance(quantity, int)
    assert isinstance(due_on, dt.date)
    assert price is None or isinstance(price, int)
    cap_currency = values["currency"] if price is not None else None
    assert cap_currency is None or isinstance(cap_currency, str)
    return DemandLine(demand_id, flow_id, category, quantity, due_on, price, cap_currency)


# --- the store ---------------------------------------------------------------------------

def find_flow(session: Session, *, agreement_id: str, flow_id: str) -> tuple[Agreement, Flow]:
    """The agreement and its flow; raises UnknownFlowError naming what exists."""
    agreement = master.load_agreement(session, agreement_id)
    if agreement is None:
        known = ", ".join(master.agreement_ids(session)) or "none yet; import a pack first"
        raise UnknownFlowError(f"no agreement {agreement_id!r} in the store (agreements: "
                               f"{known})")
    flow = agreement.flow(flow_id)
    if flow is None:
        known = ", ".join(f.flow_id for f in agreement.flows)
        raise UnknownFlowError(f"agreement {agreement_id} has no flow {flow_id!r} (its "
                               f"flows: {known})")
    return agreement, flow


def unshipped_by_month(session: Session, *, product_ids: Iterable[str], first: dt.date,
                       last: dt.date) -> dict[tuple[str, dt.date], int]:
    """(product, first day of a month) -> units of its open orders due that month that
    are not shipped yet, for orders due from `first` through `last` (inclusive).

    Unshipped = ordered quantity − shipped units, and an order is open while that is
    positive. The store has no shipments yet, so every ordered unit counts as unshipped
    and every order is open; when the shipments table lands, subtract its count of
    units per order here (`LEFT JOIN` on `order_id`, grouped by order) — this is the
    one query the allocation's capacity reads.
    """
    ids = sorted(set(product_ids))
    out: dict[tuple[str, dt.date], int] = {}
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(OrderRow.product_id, OrderRow.due_on, OrderRow.quantity)
            .where(OrderRow.product_id.in_(ids[start:start + CHUNK]),
                   OrderRow.due_on >= first, OrderRow.due_on <= last))
        for product_id, due_on, quantity in rows:
            key = (product_id, model.month_start(due_on))
            out[key] = out.get(key, 0) + quantity
    return out


def taken_order_ids(session: Session) -> set[str]:
    """Ids of stored orders that an allocation could propose again (`alloc-…`)."""
    return set(session.scalars(select(OrderRow.order_id)
                               .where(OrderRow.order_id.like("alloc-%"))))


# --- the solver ------------------------------------------------------------------------------

class HighsSolver:
    """HiGHS on one `LinearModel`: each solve passes the model with its costs and
    bounds afresh and runs the MIP solver to a proven optimum."""

    def __init__(self, linear: LinearModel, *, time_limit: float = TIME_LIMIT_SECONDS) -> None:
        self._model = linear
        self._start = np.asarray(linear.col_start, dtype=np.int32)
        self._index = np.asarray(linear.row_index, dtype=np.int32)
        self._value = np.asarray(linear.values, dtype=np.float64)
        self._lower = np.zeros(linear.num_cols, dtype=np.float64)
        self._row_lower = np.asarray([r.lower for r in linear.rows], dtype=np.float64)
        self._integrality = np.full(linear.num_cols, int(HighsVarType.kInteger), dtype=np.int32)
        self._time_limit = time_limit

    def solve(self, *, costs: Sequence[float], col_upper: Sequence[float],
              row_upper: Sequence[float]) -> list[float] | None:
        linear = self._model
        highs = _Highs()
        for option, value in (("output_flag", False), ("mip_rel_gap", 0.0),
                              ("mip_abs_gap", ABSOLUTE_GAP), ("time_limit", self._time_limit),
                              ("random_seed", 0)):
            highs.setOptionValue(option, value)
        highs.passModel(
            linear.num_cols, len(linear.rows), len(linear.row_index),
            int(MatrixFormat.kColwise), int(ObjSense.kMinimize), 0.0,
            np.asarray(costs, dtype=np.float64), self._lower,
            np.asarray(col_upper, dtype=np.float64).clip(max=kHighsInf),
            self._row_lower, np.asarray(row_upper, dtype=np.float64).clip(max=kHighsInf),
            self._start, self._index, self._value, self._integrality)
        highs.run()
        status = highs.getModelStatus()
        if status == HighsModelStatus.kOptimal:
            return list(highs.getSolution().col_value)
        if status == HighsModelStatus.kInfeasible:
            return None
        raise SolverError(f"HiGHS stopped without an optimum: "
                          f"{highs.modelStatusToString(status)}")


# --- the use case ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Allocation:
    """An allocation and how long its parts took."""

    result: AllocationResult
    load_seconds: float


def allocate(
    session: Session, *, agreement_id: str, flow_id: str, demand: Sequence[DemandLine],
    on: dt.date, max_share: Decimal = model.DEFAULT_SHARE,
    library: RulesetLibrary | None = None,
) -> Allocation:
    """Propose orders that meet `demand` in `flow_id` at least cost (SPEC §4).

    Raises UnknownFlowError, MissingRateError (a candidate's price or a cap cannot be
    converted), UnknownRulesetError (the flow names a ruleset `library` lacks).
    """
    start = time.perf_counter()
    agreement, flow = find_flow(session, agreement_id=agreement_id, flow_id=flow_id)
    assert all(line.flow_id == flow.flow_id for line in demand), "lines of the flow"
    parties = {p.party_id: p.country for p in master.load_parties(session)}
    categories = {line.category for line in demand}
    products = [p for p in master.load_products(session)
                if p.category in categories and parties.get(p.supplier_id) == flow.seller_country]
    gate = compliance_gate(session, flow=flow, product_ids=[p.product_id for p in products],
                           library=library)
    blocked = {pid: tuple(f.rule_id for f in found if f.in_force(on))
               for pid, found in gate.blocking.items()}
    first = model.month_start(on)
    last = model.add_months(model.month_start(max(line.due_on for line in demand)), 1) \
        - dt.timedelta(days=1)
    unshipped = unshipped_by_month(session, product_ids=[p.product_id for p in products],
                                   first=first, last=last)
    ordered, _ = ordered_value(session, agreement.agreement_id)
    problem = model.build_problem(
        agreement=agreement, flow=flow, lines=demand, products=products,
        supplier_country=parties, blocked={k: v for k, v in blocked.items() if v},
        unshipped=unshipped, rates=RateTable(master.load_fx_rates(session)), on=on,
        share=max_share, ordered=ordered, taken_order_ids=taken_order_ids(session))
    load_seconds = time.perf_counter() - start
    result = model.allocate(problem, HighsSolver)
    return Allocation(result, load_seconds)
