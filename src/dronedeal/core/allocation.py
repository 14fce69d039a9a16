"""Allocation of a demand across manufacturers (SPEC §4 "Allocation"), as plain data.

This module owns the model and everything about it that needs no solver and no
database: the problem (`build_problem`), the integer program (`build_model`), the
sequence of solves that finds the cheapest full allocation or, failing that, the
allocation that meets the most units and why the rest cannot be met (`allocate`,
given any `MipSolver`), the check of a solution against every rule (`violations`), and
a month-by-month production plan (`production_plan`). `services.allocation` reads the
store and hands in HiGHS.

The model. `y[d,p]` integer units of product p for demand line d (p of exactly the
line's category, from a supplier of the flow's seller country); `u[d]` integer units
of line d left unmet. Minimise Σ cost(p)·y over: Σ_p y[d,p] + u[d] = q[d];
cumulative capacity: for every product p and month t that is a due month of one of
its lines, Σ_{d: due(d) ≤ t} y[d,p] ≤ Σ_{τ ≤ t} free(p,τ), which holds exactly when
the units can be made month by month within each month's free capacity, each in a
month no later than its line's due month (earliest-due-first scheduling meets every
due month exactly when these prefix sums hold: `production_plan` is the proof); share
cap: Σ_{p of supplier s} y[d,p] ≤ ⌊share·q[d]⌋; ceiling: Σ ceiling_cost(p)·y ≤ ceiling
left; products with a blocking finding on the date and products priced above the
line's cap have y fixed at 0.

Invariants, asserted on every solution that leaves this module (`violations` is
empty): quantities are non-negative integers; a line gets exactly its quantity less
its reported shortfall; no product blocked by compliance or above the line's price
cap gets a unit; no supplier gets more than ⌊share·q⌋ units of a line; the units fit
every product's free capacity month by month before their due months; the proposed
orders' ordered value, each order converted at the rate on the agreement's
`signed_on` and rounded half-even as SPEC §5 does it, fits the ceiling left. Standard
library only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction
from itertools import combinations
from typing import Any, Literal, Protocol

from dronedeal.core.fx import AppliedRate, RateTable
from dronedeal.core.money import digits, format_amount
from dronedeal.core.records import Agreement, Flow, Order, Product

Family = Literal["capacity", "compliance", "ceiling", "price_cap", "share_cap"]
#: the constraint families a shortfall can be blamed on, in the order they are named
#: when relaxing either of two alone would meet a line: the facts of the deal (what can
#: be made, what the law allows, what the agreement has left) before the demand's own
#: limits (its price caps, the share cap of the command)
FAMILIES: tuple[Family, ...] = ("capacity", "compliance", "ceiling", "price_cap", "share_cap")
DEFAULT_SHARE = Decimal("0.4")
#: bound on the lines of one demand (a larger demand is split by the user)
MAX_LINES = 10_000
#: bound on re-solves that tighten the ceiling row until per-order rounding fits
MAX_CEILING_TIGHTENINGS = 8
ORDER_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
INF = math.inf


# --- the problem --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DemandLine:
    """One line of a demand: `quantity` units of `category` due on `due_on`, each at
    most `max_unit_price` minor units of `currency` (None: no cap)."""

    demand_id: str
    flow_id: str
    category: str
    quantity: int
    due_on: dt.date
    max_unit_price: int | None = None
    #: the cap's currency; None means the agreement currency
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class Offer:
    """A product as the allocation sees it: price, supplier, free capacity per month."""

    product: Product
    #: converts the catalog price into the agreement currency at the rate on `--on`
    cost_rate: AppliedRate
    #: converts it at the rate on the agreement's `signed_on` (ordered value, §5)
    ceiling_rate: AppliedRate
    #: free units per month of the horizon: capacity less unshipped units of open orders
    free: tuple[int, ...]
    #: rule ids of the blocking findings in force on `--on` (empty: compliant)
    blocked_by: tuple[str, ...] = ()

    @property
    def product_id(self) -> str:
        return self.product.product_id

    @property
    def supplier_id(self) -> str:
        return self.product.supplier_id

    @property
    def unit_cost(self) -> Fraction:
        """Exact agreement minor units per unit at the rate on `--on`."""
        return exact_rate(self.cost_rate) * self.product.unit_price

    @property
    def unit_ceiling_cost(self) -> Fraction:
        """Exact agreement minor units per unit at the rate on `signed_on`."""
        return exact_rate(self.ceiling_rate) * self.product.unit_price


@dataclass(frozen=True, slots=True)
class Candidate:
    """Offer `offer` may serve its line unless excluded: by compliance (the offer is
    blocked) or by the line's price cap."""

    offer: int
    over_price_cap: bool


@dataclass(frozen=True)
class AllocationProblem:
    """Everything the model needs; built by `build_problem`, read-only after."""

    agreement_id: str
    currency: str
    flow: Flow
    on: dt.date
    #: first days of the months from the month of `on` through the last due month
    months: tuple[dt.date, ...]
    lines: tuple[DemandLine, ...]
    #: index into `months` of each line's due month; -1 when due before `months[0]`
    due_month: tuple[int, ...]
    #: each line's cap in exact agreement minor units at the rate on `on` (None: none)
    price_caps: tuple[Fraction | None, ...]
    offers: tuple[Offer, ...]
    #: per line, the offers of its category from the seller country, by product id
    candidates: tuple[tuple[Candidate, ...], ...]
    share: Decimal
    ceiling: int
    ordered: int
    #: order ids already in the store that a proposed order must not reuse
    taken_order_ids: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        assert len(self.lines) == len(self.due_month) == len(self.candidates) \
            == len(self.price_caps), "one entry per line"
        assert 0 < self.share <= 1, "the share cap is in (0, 1]"
        assert len({line.demand_id for line in self.lines}) == len(self.lines), "demand ids"
        assert all(len(o.free) == len(self.months) for o in self.offers), "free per month"
        assert all(line.quantity >= 1 for line in self.lines), "quantities are positive"

    @property
    def ceiling_left(self) -> int:
        """The ceiling less the ordered value of all flows, never below 0."""
        return max(0, self.ceiling - self.ordered)

    def share_limit(self, line: int) -> int:
        """⌊share × quantity⌋: the most one supplier may take of a line."""
        exact = self.share * self.lines[line].quantity
        return int(exact.to_integral_value(rounding=ROUND_FLOOR))

    def excluded(self, line: int, candidate: Candidate) -> frozenset[Family]:
        """The families that keep a candidate off a line (empty: it may serve)."""
        out: set[Family] = set()
        if self.offers[candidate.offer].blocked_by:
            out.add("compliance")
        if candidate.over_price_cap:
            out.add("price_cap")
        return frozenset(out)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def months_between(first: dt.date, day: dt.date) -> int:
    """Calendar months from the month of `first` to the month of `day` (may be < 0)."""
    return (day.year - first.year) * 12 + day.month - first.month


def add_months(first: dt.date, count: int) -> dt.date:
    index = first.year * 12 + first.month - 1 + count
    return dt.date(index // 12, index % 12 + 1, 1)


def exact_rate(applied: AppliedRate) -> Fraction:
    """Target minor units per source minor unit, exactly (no rounding)."""
    scale = Fraction(10) ** (digits(applied.target) - digits(applied.source))
    if applied.quote is None:
        return Fraction(1)
    rate = Fraction(applied.quote.rate)
    return scale / rate if applied.inverse else scale * rate


def build_problem(
    *, agreement: Agreement, flow: Flow, lines: Sequence[DemandLine],
    products: Iterable[Product], supplier_country: Mapping[str, str],
    blocked: Mapping[str, tuple[str, ...]], unshipped: Mapping[tuple[str, dt.date], int],
    rates: RateTable, on: dt.date, share: Decimal, ordered: int,
    taken_order_ids: Iterable[str] = (),
) -> AllocationProblem:
    """The allocation problem of `lines` in `flow` on `on`.

    `products` may hold the whole catalog: only products of a line's category whose
    supplier is in the flow's seller country become candidates. `blocked` maps a
    product to the rule ids of its blocking findings in force on `on`; `unshipped`
    maps (product, first day of a month) to the unshipped units of its open orders due
    that month. Raises MissingRateError when a candidate's or a cap's currency has no
    rate into the agreement currency on `on` (or, for the ceiling, on `signed_on`).
    """
    assert 1 <= len(lines) <= MAX_LINES, f"a demand has 1 to {MAX_LINES} lines"
    assert all(line.flow_id == flow.flow_id for line in lines), "lines of the flow"
    first = month_start(on)
    due_month = tuple(months_between(first, line.due_on) for line in lines)
    months = tuple(add_months(first, i) for i in range(max(0, *due_month) + 1))
    categories = {line.category for line in lines}
    wanted = sorted((p for p in products
                     if p.category in categories
                     and supplier_country.get(p.supplier_id) == flow.seller_country),
                    key=lambda p: p.product_id)
    offers: list[Offer] = []
    by_category: dict[str, list[int]] = defaultdict(list)
    for product in wanted:
        free = tuple(max(0, product.monthly_capacity - unshipped.get((product.product_id, m), 0))
                     for m in months)
        offers.append(Offer(
            product=product,
            cost_rate=rates.applied(product.currency, agreement.currency, on),
            ceiling_rate=rates.applied(product.currency, agreement.currency,
                                       agreement.signed_on),
            free=free, blocked_by=tuple(sorted(set(blocked.get(product.product_id, ()))))))
        by_category[product.category].append(len(offers) - 1)
    caps: list[Fraction | None] = []
    candidates: list[tuple[Candidate, ...]] = []
    for line, month in zip(lines, due_month, strict=True):
        cap: Fraction | None = None
        if line.max_unit_price is not None:
            cap_currency = line.currency or agreement.currency
            cap = exact_rate(rates.applied(cap_currency, agreement.currency, on)) \
                * line.max_unit_price
        caps.append(cap)
        if month < 0:
            candidates.append(())  # no month to make a unit in
            continue
        row: list[Candidate] = []
        for index in by_category[line.category]:
            offer = offers[index]
            over = False
            if line.max_unit_price is not None:
                if offer.product.currency == (line.currency or agreement.currency):
                    over = offer.product.unit_price > line.max_unit_price
                else:
                    assert cap is not None
                    over = offer.unit_cost > cap
            row.append(Candidate(index, over))
        candidates.append(tuple(row))
    return AllocationProblem(
        agreement_id=agreement.agreement_id, currency=agreement.currency, flow=flow, on=on,
        months=months, lines=tuple(lines), due_month=due_month, price_caps=tuple(caps),
        offers=tuple(offers), candidates=tuple(candidates), share=share,
        ceiling=agreement.ceiling, ordered=ordered,
        taken_order_ids=frozenset(taken_order_ids))


# --- the integer program -------------------------------------------------------------------

RowKind = Literal["demand", "capacity", "share_cap", "ceiling", "shortfall"]


@dataclass(frozen=True, slots=True)
class Row:
    """One constraint: its kind and what it is about (for reports)."""

    kind: RowKind
    lower: float
    upper: float
    line: int = -1
    offer: int = -1
    month: int = -1
    supplier_id: str = ""


@dataclass(frozen=True)
class LinearModel:
    """The integer program in column-wise (CSC) form, with what each column and row is.

    Columns are `y[line, candidate]` in line order then candidate order, then one
    shortfall column `u[line]` per line. Every column is integer with lower bound 0.
    A solve chooses the objective (cost or shortfall), the upper bounds of the
    shortfall columns and which families are relaxed (`bounds`).
    """

    #: (line, candidate index) per allocation column
    pairs: tuple[tuple[int, int], ...]
    #: families that exclude each allocation column (empty: allowed)
    excluded: tuple[frozenset[Family], ...]
    #: exact cost per unit of each allocation column, agreement minor units at `--on`
    unit_cost: tuple[Fraction, ...]
    #: exact ordered value per unit of each allocation column, at `signed_on`
    unit_ceiling_cost: tuple[Fraction, ...]
    quantities: tuple[int, ...]
    rows: tuple[Row, ...]
    col_start: tuple[int, ...]
    row_index: tuple[int, ...]
    values: tuple[float, ...]
    ceiling_row: int | None

    @property
    def num_pairs(self) -> int:
        return len(self.pairs)

    @property
    def num_cols(self) -> int:
        return len(self.pairs) + len(self.quantities)

    def shortfall_col(self, line: int) -> int:
        return len(self.pairs) + line

    def costs(self, objective: Literal["cost", "shortfall"]) -> list[float]:
        if objective == "cost":
            return [float(c) for c in self.unit_cost] + [0.0] * len(self.quantities)
        return [0.0] * len(self.pairs) + [1.0] * len(self.quantities)

    def bounds(self, *, relaxed: frozenset[Family], slack: Sequence[int],
               shortfall: float = INF, ceiling: float | None = None
               ) -> tuple[list[float], list[float]]:
        """(column upper bounds, row upper bounds) with `relaxed` families lifted,
        shortfall column upper bounds `slack`, the total shortfall at most `shortfall`
        and the ceiling row's bound replaced by `ceiling` when given."""
        assert len(slack) == len(self.quantities)
        col_upper = [float(self.quantities[line]) if excluded <= relaxed else 0.0
                     for (line, _), excluded in zip(self.pairs, self.excluded, strict=True)]
        col_upper.extend(float(s) for s in slack)
        row_upper: list[float] = []
        for index, row in enumerate(self.rows):
            if row.kind in relaxed:
                row_upper.append(INF)
            elif row.kind == "shortfall":
                row_upper.append(shortfall)
            elif index == self.ceiling_row and ceiling is not None:
                row_upper.append(ceiling)
            else:
                row_upper.append(row.upper)
        return col_upper, row_upper


def build_model(problem: AllocationProblem) -> LinearModel:
    """The integer program of `problem` (see the module docstring)."""
    rows: list[Row] = []
    pairs: list[tuple[int, int]] = []
    for line, candidates in enumerate(problem.candidates):
        pairs.extend((line, c) for c in range(len(candidates)))
    entries: list[list[tuple[int, float]]] = [[] for _ in range(len(pairs) + len(problem.lines))]
    # demand: Σ y + u = q
    for line, demand in enumerate(problem.lines):
        rows.append(Row("demand", demand.quantity, demand.quantity, line=line))
    col_of: dict[tuple[int, int], int] = {pair: i for i, pair in enumerate(pairs)}
    for col, (line, _) in enumerate(pairs):
        entries[col].append((line, 1.0))
    for line in range(len(problem.lines)):
        entries[len(pairs) + line].append((line, 1.0))
    # share cap per (line, supplier)
    for line, candidates in enumerate(problem.candidates):
        limit = problem.share_limit(line)
        if limit >= problem.lines[line].quantity:
            continue  # never binds
        by_supplier: dict[str, list[int]] = defaultdict(list)
        for c, candidate in enumerate(candidates):
            by_supplier[problem.offers[candidate.offer].supplier_id].append(col_of[line, c])
        for supplier_id in sorted(by_supplier):
            row = len(rows)
            rows.append(Row("share_cap", -INF, limit, line=line, supplier_id=supplier_id))
            for col in by_supplier[supplier_id]:
                entries[col].append((row, 1.0))
    # capacity, cumulative through each due month of the product's lines
    uses: dict[int, list[tuple[int, int]]] = defaultdict(list)  # offer -> (due month, col)
    for col, (line, c) in enumerate(pairs):
        uses[problem.candidates[line][c].offer].append((problem.due_month[line], col))
    for offer in sorted(uses):
        free = problem.offers[offer].free
        cols = sorted(uses[offer])
        due_months = sorted({month for month, _ in cols})
        cumulative = 0
        demand_through = 0
        position = 0
        last = -1
        for month in due_months:
            cumulative += sum(free[last + 1:month + 1])
            last = month
            while position < len(cols) and cols[position][0] <= month:
                demand_through += problem.lines[pairs[cols[position][1]][0]].quantity
                position += 1
            if cumulative >= demand_through:
                continue  # the units these lines can take fit: the row never binds
            row = len(rows)
            rows.append(Row("capacity", -INF, cumulative, offer=offer, month=month))
            for due, col in cols[:position]:
                assert due <= month
                entries[col].append((row, 1.0))
    # ceiling: Σ ceiling cost · y ≤ ceiling left, skipped when no allocation can reach
    # it even with each order rounded up by half a minor unit
    ceiling_costs = [problem.offers[problem.candidates[line][c].offer].unit_ceiling_cost
                     for line, c in pairs]
    most = sum((max((ceiling_costs[col_of[line, c]] for c in range(len(cands))),
                    default=Fraction(0)) * problem.lines[line].quantity
                for line, cands in enumerate(problem.candidates)), Fraction(len(pairs), 2))
    ceiling_row: int | None = None
    if most > problem.ceiling_left:
        ceiling_row = len(rows)
        rows.append(Row("ceiling", -INF, float(problem.ceiling_left)))
        for col, cost in enumerate(ceiling_costs):
            if cost:
                entries[col].append((ceiling_row, float(cost)))
    # total shortfall, bounded in the second phase
    shortfall_row = len(rows)
    rows.append(Row("shortfall", -INF, INF))
    for line in range(len(problem.lines)):
        entries[len(pairs) + line].append((shortfall_row, 1.0))
    col_start = [0]
    row_index: list[int] = []
    values: list[float] = []
    for column in entries:
        for row, value in column:
            row_index.append(row)
            values.append(value)
        col_start.append(len(row_index))
    return LinearModel(
        pairs=tuple(pairs),
        excluded=tuple(problem.excluded(line, problem.candidates[line][c]) for line, c in pairs),
        unit_cost=tuple(problem.offers[problem.candidates[line][c].offer].unit_cost
                        for line, c in pairs),
        unit_ceiling_cost=tuple(ceiling_costs),
        quantities=tuple(line.quantity for line in problem.lines),
        rows=tuple(rows), col_start=tuple(col_start), row_index=tuple(row_index),
        values=tuple(values), ceiling_row=ceiling_row)


class MipSolver(Protocol):
    """Solves one `LinearModel` again and again with other costs and bounds."""

    def solve(self, *, costs: Sequence[float], col_upper: Sequence[float],
              row_upper: Sequence[float]) -> list[float] | None:
        """Optimal column values, or None when the bounds leave no solution; raises
        `SolverError` for anything else (a time limit, a numerical failure)."""
        ...


class SolverError(RuntimeError):
    """The solver stopped without proving an optimum or infeasibility."""


# --- solutions ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Unmet:
    """Units of a demand line that cannot be met, and the constraint that binds:
    `constraint` is the first of `constraints` in `FAMILIES` order; `constraints` are
    all the families whose relaxation (alone, or together when no one alone does it)
    meets the line."""

    demand_id: str
    units: int
    constraint: Family
    constraints: tuple[Family, ...]
    detail: str

    def as_json(self) -> dict[str, Any]:
        """SPEC §4's shape: demand_id, units, constraint."""
        return {"demand_id": self.demand_id, "units": self.units,
                "constraint": self.constraint}


@dataclass(frozen=True, slots=True)
class Binding:
    """A constraint that is tight in the proposed allocation, or an exclusion that kept
    a cheaper product off a line."""

    constraint: Family
    detail: str
    demand_id: str | None = None
    product_id: str | None = None
    supplier_id: str | None = None
    #: the last month (YYYY-MM) of a cumulative capacity constraint
    through: str | None = None
    units: int | None = None
    limit: int | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"constraint": self.constraint}
        for key in ("demand_id", "product_id", "supplier_id", "through", "units", "limit"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class AllocationResult:
    """The proposed orders (all of the demand, or the best partial allocation), what
    is unmet and why, and which constraints shaped the answer."""

    problem: AllocationProblem
    #: units per (line, offer), every entry positive
    allocation: Mapping[tuple[int, int], int]
    orders: tuple[Order, ...]
    #: order id -> (line, offer)
    order_source: Mapping[str, tuple[int, int]]
    total_cost: int
    unmet: tuple[Unmet, ...]
    binding: tuple[Binding, ...]
    solves: int
    build_seconds: float
    solve_seconds: float

    @property
    def feasible(self) -> bool:
        return not self.unmet

    @property
    def currency(self) -> str:
        return self.problem.currency

    def units_by_supplier(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for order in self.orders:
            out[order.supplier_id] += order.quantity
        return dict(sorted(out.items(), key=lambda item: (-item[1], item[0])))

    def cost_by_supplier(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for order in self.orders:
            out[order.supplier_id] += self.order_cost(order)
        return dict(out)

    def order_cost(self, order: Order) -> int:
        """The order's value in the agreement currency at the rate on `--on`."""
        _, offer = self.order_source[order.order_id]
        return self.problem.offers[offer].cost_rate.convert(order.quantity * order.unit_price)

    def summary(self) -> dict[str, Any]:
        """Total units, units and share per supplier, lines, binding constraints and the
        diagnosis of every unmet line."""
        units = sum(o.quantity for o in self.orders)
        costs = self.cost_by_supplier()
        met: dict[int, int] = defaultdict(int)
        for (line, _), quantity in self.allocation.items():
            met[line] += quantity
        return {
            "units": units,
            "suppliers": [{"supplier_id": s, "units": n, "share": ratio_text(n, units),
                           "cost": format_amount(costs[s], self.currency)}
                          for s, n in self.units_by_supplier().items()],
            "lines": [{"demand_id": line.demand_id, "quantity": line.quantity,
                       "allocated": met[i], "due_on": line.due_on.isoformat()}
                      for i, line in enumerate(self.problem.lines)],
            "max_share": str(self.problem.share),
            "ceiling_left": format_amount(self.problem.ceiling_left, self.currency),
            "binding": [b.as_json() for b in self.binding],
            "diagnosis": [{"demand_id": u.demand_id, "units": u.units,
                           "constraint": u.constraint, "constraints": list(u.constraints),
                           "detail": u.detail} for u in self.unmet],
        }

    def as_json(self, *, with_orders: bool = True) -> dict[str, Any]:
        """SPEC §4's `allocate --format json` shape plus a `summary`; `with_orders`
        False gives the empty orders of a demand refused as infeasible."""
        orders = self.orders if with_orders else ()
        total = self.total_cost if with_orders else 0
        return {
            "agreement_id": self.problem.agreement_id,
            "flow_id": self.problem.flow.flow_id,
            "currency": self.currency,
            "total_cost": format_amount(total, self.currency),
            "orders": [o.document() for o in orders],
            "unmet": [u.as_json() for u in self.unmet],
            "summary": self.summary(),
        }


def ratio_text(part: int, whole: int) -> str:
    """part / whole as a decimal string with 4 places, half-even ("0.4000")."""
    if whole == 0:
        return "0.0000"
    return f"{round(Fraction(part, whole) * 10_000) / 10_000:.4f}"


def order_id(demand_id: str, product_id: str, taken: frozenset[str] | set[str]) -> str:
    """`alloc-<demand_id>-<product_id>`, or a hash of the pair when that is too long for
    an id; `.2`, `.3`, … appended when the id is taken, so that importing the orders of
    a second allocation never overwrites an order of the first."""
    base = f"alloc-{demand_id}-{product_id}"
    if len(base) > 58:
        digest = hashlib.sha256(f"{demand_id}\x1f{product_id}".encode()).hexdigest()
        base = f"alloc-{digest[:40]}"
    candidate = base
    for suffix in range(2, 10_000):
        if candidate not in taken:
            break
        candidate = f"{base}.{suffix}"
    else:  # pragma: no cover - ten thousand allocations of one line to one product
        raise AssertionError(f"no free order id for {base}")
    assert ORDER_ID.fullmatch(candidate), candidate
    return candidate


def ordered_value(problem: AllocationProblem, allocation: Mapping[tuple[int, int], int]) -> int:
    """Ordered value of the proposed orders as SPEC §5 counts it: each order converted
    at the rate on `signed_on` and rounded half-even, then summed."""
    return sum(problem.offers[offer].ceiling_rate.convert(
        quantity * problem.offers[offer].product.unit_price)
        for (_, offer), quantity in allocation.items())


def production_plan(problem: AllocationProblem, allocation: Mapping[tuple[int, int], int]
                    ) -> dict[tuple[int, int], dict[int, int]] | None:
    """(offer, month) -> {line: units} made that month, each product filling its free
    capacity from the first month on with its lines in due-month order; None when some
    line's units cannot all be made by its due month."""
    by_offer: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for (line, offer), quantity in allocation.items():
        by_offer[offer].append((problem.due_month[line], line, quantity))
    plan: dict[tuple[int, int], dict[int, int]] = {}
    for offer, jobs in by_offer.items():
        room = list(problem.offers[offer].free)
        month = 0
        for due, line, quantity in sorted(jobs):
            need = quantity
            while need and month <= due:
                take = min(need, room[month])
                if take:
                    plan.setdefault((offer, month), {})[line] = take
                    room[month] -= take
                    need -= take
                if not room[month]:
                    month += 1
            if need:
                return None
    return plan


def violations(problem: AllocationProblem, allocation: Mapping[tuple[int, int], int],
               shortfall: Sequence[int]) -> list[str]:
    """Every rule the allocation breaks, as sentences (empty: it keeps them all)."""
    out: list[str] = []
    allowed = {(line, c.offer): not problem.excluded(line, c)
               for line, cands in enumerate(problem.candidates) for c in cands}
    met: dict[int, int] = defaultdict(int)
    per_supplier: dict[tuple[int, str], int] = defaultdict(int)
    for (line, offer), quantity in allocation.items():
        if not isinstance(quantity, int) or quantity <= 0:
            out.append(f"line {line} offer {offer}: quantity {quantity!r} is not positive")
        if not allowed.get((line, offer), False):
            out.append(f"line {line} offer {offer}: not allowed to serve the line")
        met[line] += quantity
        per_supplier[line, problem.offers[offer].supplier_id] += quantity
    for line, demand in enumerate(problem.lines):
        if met[line] + shortfall[line] != demand.quantity:
            out.append(f"{demand.demand_id}: {met[line]} allocated + {shortfall[line]} "
                       f"unmet != {demand.quantity}")
    for (line, supplier_id), quantity in per_supplier.items():
        if quantity > problem.share_limit(line):
            out.append(f"{problem.lines[line].demand_id}: {supplier_id} has {quantity} > "
                       f"{problem.share_limit(line)} units")
    if production_plan(problem, allocation) is None:
        out.append("the units do not fit the products' monthly capacity before their due months")
    value = ordered_value(problem, allocation)
    if value > problem.ceiling_left:
        out.append(f"ordered value {value} exceeds the ceiling left {problem.ceiling_left}")
    return out


# --- solving and explaining ---------------------------------------------------------------

@dataclass
class _Run:
    """The solver, its clock and the ceiling row's bound for one allocation."""

    model: LinearModel
    solver: MipSolver
    ceiling: float
    solves: int = 0
    seconds: float = 0.0
    #: units of total shortfall that relaxing each family recovers (diagnosis)
    relief: dict[Family, int] = field(default_factory=dict)

    def solve(self, objective: Literal["cost", "shortfall"], *, relaxed: frozenset[Family],
              slack: Sequence[int], shortfall: float = INF) -> list[int] | None:
        col_upper, row_upper = self.model.bounds(relaxed=relaxed, slack=slack,
                                                 shortfall=shortfall, ceiling=self.ceiling)
        start = time.perf_counter()
        values = self.solver.solve(costs=self.model.costs(objective), col_upper=col_upper,
                                   row_upper=row_upper)
        self.seconds += time.perf_counter() - start
        self.solves += 1
        if values is None:
            return None
        assert len(values) == self.model.num_cols
        rounded = [round(v) for v in values]
        assert all(abs(v - r) < 1e-4 for v, r in zip(values, rounded, strict=True)), \
            "the solver returned a fractional quantity"
        return [max(0, r) for r in rounded]


def allocate(problem: AllocationProblem, solver_for: Callable[[LinearModel], MipSolver]
             ) -> AllocationResult:
    """The cheapest allocation that meets the whole demand; when none exists, the one
    that meets the most units at the least cost, with each unmet line diagnosed."""
    start = time.perf_counter()
    model = build_model(problem)
    build_seconds = time.perf_counter() - start
    run = _Run(model, solver_for(model), ceiling=float(problem.ceiling_left))
    values = _best(problem, run)
    lines = len(problem.lines)
    allocation = _allocation(problem, model, values)
    shortfall = [values[model.shortfall_col(i)] for i in range(lines)]
    broken = violations(problem, allocation, shortfall)
    assert not broken, broken
    unmet = _diagnose(problem, run, allocation, shortfall) if any(shortfall) else []
    binding = _binding(problem, run, allocation, shortfall, values)
    orders, source = _orders(problem, allocation)
    total = 0
    for order in orders:
        offer = problem.offers[source[order.order_id][1]]
        total += offer.cost_rate.convert(order.quantity * order.unit_price)
    return AllocationResult(
        problem=problem, allocation=allocation, orders=orders, order_source=source,
        total_cost=total, unmet=tuple(unmet), binding=tuple(binding), solves=run.solves,
        build_seconds=build_seconds, solve_seconds=run.seconds)


def _best(problem: AllocationProblem, run: _Run) -> list[int]:
    """Column values of the cheapest full allocation or, when there is none, of the
    cheapest among those that meet the most units.

    The ceiling row holds exact per-unit values while SPEC §5 rounds each order; when
    the rounded ordered value overshoots the ceiling left, the row is tightened by the
    overshoot and the solve repeated (a few cents, a bounded number of times).
    """
    model = run.model
    none: frozenset[Family] = frozenset()
    full = True
    for _ in range(MAX_CEILING_TIGHTENINGS):
        values: list[int] | None = None
        if full:
            values = run.solve("cost", relaxed=none, slack=[0] * len(problem.lines))
            if values is None:
                full = False
        if not full:
            # Phase 1: the most units that can be met; phase 2: the cheapest such allocation.
            most = run.solve("shortfall", relaxed=none, slack=list(model.quantities))
            assert most is not None, "leaving every line unmet is always a solution"
            least = sum(most[model.shortfall_col(i)] for i in range(len(problem.lines)))
            values = run.solve("cost", relaxed=none, slack=list(model.quantities),
                               shortfall=least)
            assert values is not None, "phase 1's solution fits phase 2"
        assert values is not None
        over = ordered_value(problem, _allocation(problem, model, values)) \
            - problem.ceiling_left
        if over <= 0:
            return values
        assert model.ceiling_row is not None, "without a ceiling row nothing overshoots"
        run.ceiling -= max(over, 1)
    raise SolverError("the ceiling could not be kept after rounding each order; "
                      "report this allocation as a bug")


def _allocation(problem: AllocationProblem, model: LinearModel, values: Sequence[int]
                ) -> dict[tuple[int, int], int]:
    out: dict[tuple[int, int], int] = {}
    for col, (line, c) in enumerate(model.pairs):
        if values[col] > 0:
            out[line, problem.candidates[line][c].offer] = values[col]
    return out


def _orders(problem: AllocationProblem, allocation: Mapping[tuple[int, int], int]
            ) -> tuple[tuple[Order, ...], dict[str, tuple[int, int]]]:
    """One order per (line, product) with units, in line then product order."""
    taken = set(problem.taken_order_ids)
    orders: list[Order] = []
    source: dict[str, tuple[int, int]] = {}
    for (line, offer) in sorted(allocation, key=lambda k: (k[0],
                                                           problem.offers[k[1]].product_id)):
        demand = problem.lines[line]
        product = problem.offers[offer].product
        oid = order_id(demand.demand_id, product.product_id, taken)
        taken.add(oid)
        source[oid] = (line, offer)
        orders.append(Order(
            order_id=oid, agreement_id=problem.agreement_id, flow_id=problem.flow.flow_id,
            buyer_id=problem.flow.buyer_id, supplier_id=product.supplier_id,
            product_id=product.product_id, quantity=allocation[line, offer],
            unit_price=product.unit_price, currency=product.currency, due_on=demand.due_on))
    return tuple(orders), source


def _diagnose(problem: AllocationProblem, run: _Run,
              allocation: Mapping[tuple[int, int], int], shortfall: Sequence[int]
              ) -> list[Unmet]:
    """Which constraint family, relaxed, removes each line's shortfall.

    Each family is relaxed alone (then pairs, for lines no family alone meets) while
    the total shortfall is minimised with no line allowed to fall further short than
    in the best allocation; a line is blamed on the families whose relaxation meets it.
    """
    blame: dict[int, tuple[Family, ...]] = {}
    special: dict[int, str] = {}
    for line, missing in enumerate(shortfall):
        if not missing:
            continue
        if problem.due_month[line] < 0:
            special[line] = (f"due {problem.lines[line].due_on.isoformat()}, before "
                             f"{problem.months[0]:%Y-%m}, the first month of production "
                             f"(--on {problem.on.isoformat()}): no month to make a unit in")
        elif not problem.candidates[line]:
            special[line] = (f"no product of category {problem.lines[line].category} "
                             f"from a supplier in {problem.flow.seller_country}: "
                             "no capacity at all")
    open_lines = [i for i, m in enumerate(shortfall) if m and i not in special]
    met_by: dict[int, list[Family]] = defaultdict(list)
    reduced: dict[int, list[Family]] = defaultdict(list)
    present = _present_families(problem, run.model, open_lines)
    for family in FAMILIES:
        if not open_lines or family not in present:
            continue  # relaxing a family the open lines do not meet changes nothing
        values = run.solve("shortfall", relaxed=frozenset({family}), slack=shortfall)
        assert values is not None, "the best allocation fits every relaxation"
        run.relief[family] = sum(shortfall) - sum(
            values[run.model.shortfall_col(i)] for i in range(len(shortfall)))
        for line in open_lines:
            left = values[run.model.shortfall_col(line)]
            if left == 0:
                met_by[line].append(family)
            elif left < shortfall[line]:
                reduced[line].append(family)
    for line in open_lines:
        if met_by[line]:
            blame[line] = tuple(met_by[line])
    rest = [line for line in open_lines if line not in blame]
    for pair in combinations(FAMILIES, 2):
        if not rest:
            break
        if not set(pair) <= present:
            continue
        values = run.solve("shortfall", relaxed=frozenset(pair), slack=shortfall)
        assert values is not None
        for line in rest:
            if values[run.model.shortfall_col(line)] == 0:
                blame[line] = pair
        rest = [line for line in rest if line not in blame]
    for line in rest:
        blame[line] = tuple(reduced[line]) or FAMILIES
    out: list[Unmet] = []
    for line, missing in enumerate(shortfall):
        if not missing:
            continue
        demand = problem.lines[line]
        if line in special:
            out.append(Unmet(demand.demand_id, missing, "capacity", ("capacity",),
                             f"{demand.demand_id}: {missing} of {demand.quantity} units "
                             f"unmet; {special[line]}"))
            continue
        families = tuple(f for f in FAMILIES if f in blame[line])
        reasons = "; ".join(_explain(problem, line, family, allocation) for family in families)
        if met_by[line]:
            how = "relaxing it meets the line" if len(families) == 1 else \
                "relaxing any one of these meets the line"
        elif line not in rest:
            how = "relaxing these together meets the line"
        else:
            how = "relaxing these relieves part of the shortfall"
        out.append(Unmet(
            demand.demand_id, missing, families[0], families,
            f"{demand.demand_id}: {missing} of {demand.quantity} units unmet; binding "
            f"({how}): {reasons}"))
    return out


def _present_families(problem: AllocationProblem, model: LinearModel,
                      lines: Sequence[int]) -> set[Family]:
    """The families that hold some of `lines` back at all: rows of the model, or
    candidates they exclude."""
    wanted = set(lines)
    present: set[Family] = set()
    for row in model.rows:
        if row.kind == "capacity" or (row.kind == "share_cap" and row.line in wanted):
            present.add(row.kind)
        elif row.kind == "ceiling":
            present.add("ceiling")
    for line in wanted:
        for candidate in problem.candidates[line]:
            present |= problem.excluded(line, candidate)
    return present


def _months_text(problem: AllocationProblem, upto: int, per_month: Sequence[int]) -> str:
    shown = [f"{problem.months[t]:%Y-%m}: {per_month[t]}" for t in range(upto + 1)]
    if len(shown) > 6:
        shown = [*shown[:3], "…", *shown[-2:]]
    return ", ".join(shown)


def _explain(problem: AllocationProblem, line: int, family: Family,
             allocation: Mapping[tuple[int, int], int]) -> str:
    """One sentence on how `family` holds line `line` back."""
    demand = problem.lines[line]
    cands = problem.candidates[line]
    currency = problem.currency
    eligible = [c.offer for c in cands if not problem.excluded(line, c)]
    if family == "capacity":
        due = problem.due_month[line]
        free = [sum(problem.offers[o].free[t] for o in eligible) for t in range(due + 1)]
        plan = production_plan(problem, allocation) or {}
        mine = set(eligible)
        used = sum(units for (offer, month), lines in plan.items()
                   if offer in mine and month <= due for units in lines.values())
        return (f"capacity — the {len(eligible)} eligible product(s) have {sum(free)} units "
                f"free from {problem.months[0]:%Y-%m} through {problem.months[due]:%Y-%m} "
                f"({_months_text(problem, due, free)}), {used} of them allocated")
    if family == "share_cap":
        suppliers = {problem.offers[o].supplier_id for o in eligible}
        limit = problem.share_limit(line)
        return (f"share_cap — no supplier may take more than ⌊{problem.share} × "
                f"{demand.quantity}⌋ = {limit} units and {len(suppliers)} eligible "
                f"supplier(s) can take at most {limit * len(suppliers)}")
    if family == "price_cap":
        over = sorted((problem.offers[c.offer].unit_cost, problem.offers[c.offer].product_id)
                      for c in cands if c.over_price_cap)
        cap = problem.price_caps[line]
        assert cap is not None or not over
        cap_text = format_amount(round(cap), currency) if cap is not None else "—"
        cheapest = (f"; the cheapest of them costs {format_amount(round(over[0][0]), currency)}"
                    f" {currency} ({over[0][1]})") if over else ""
        return (f"price_cap — {len(over)} product(s) of {demand.category} cost more than the "
                f"cap of {cap_text} {currency} a unit{cheapest}")
    if family == "compliance":
        blocked = [problem.offers[c.offer] for c in cands if problem.offers[c.offer].blocked_by]
        named = ", ".join(f"{o.product_id} ({', '.join(o.blocked_by)})" for o in blocked[:5])
        more = f" and {len(blocked) - 5} more" if len(blocked) > 5 else ""
        return (f"compliance — {len(blocked)} product(s) of {demand.category} have a blocking "
                f"finding on {problem.on.isoformat()}: {named}{more}")
    left = problem.ceiling_left
    used = ordered_value(problem, allocation)
    return (f"ceiling — the agreement ceiling has {format_amount(left, currency)} {currency} "
            f"left (ceiling {format_amount(problem.ceiling, currency)}, ordered "
            f"{format_amount(problem.ordered, currency)}); this allocation takes "
            f"{format_amount(used, currency)}")


def _binding(problem: AllocationProblem, run: _Run, allocation: Mapping[tuple[int, int], int],
             shortfall: Sequence[int], values: Sequence[int]) -> list[Binding]:
    """Constraints that are tight in the allocation and exclusions that kept a product
    cheaper than one the line uses off it."""
    out: list[Binding] = []
    model = run.model
    activity = [0] * len(model.rows)
    for col, value in enumerate(values):
        if value:
            for k in range(model.col_start[col], model.col_start[col + 1]):
                activity[model.row_index[k]] += value
    for index, row in enumerate(model.rows):
        if row.kind == "capacity" and activity[index] >= row.upper:
            offer = problem.offers[row.offer]
            out.append(Binding(
                "capacity", f"{offer.product_id} is fully booked from "
                f"{problem.months[0]:%Y-%m} through {problem.months[row.month]:%Y-%m}",
                product_id=offer.product_id, supplier_id=offer.supplier_id,
                through=f"{problem.months[row.month]:%Y-%m}", units=activity[index],
                limit=int(row.upper)))
        elif row.kind == "share_cap" and activity[index] >= row.upper:
            demand = problem.lines[row.line]
            out.append(Binding(
                "share_cap", f"{row.supplier_id} has the most a supplier may take of "
                f"{demand.demand_id}", demand_id=demand.demand_id,
                supplier_id=row.supplier_id, units=activity[index], limit=int(row.upper)))
    dearest_used: dict[int, Fraction] = {}
    for line, index in allocation:
        cost = problem.offers[index].unit_cost
        dearest_used[line] = max(cost, dearest_used.get(line, cost))
    for line, cands in enumerate(problem.candidates):
        dearest = dearest_used.get(line)
        for c in cands:
            excluded = problem.excluded(line, c)
            offer = problem.offers[c.offer]
            if not excluded or (dearest is not None and offer.unit_cost >= dearest):
                continue
            if dearest is None and not shortfall[line]:
                continue
            family: Family = "compliance" if "compliance" in excluded else "price_cap"
            why = (f"blocked by {', '.join(offer.blocked_by)}" if family == "compliance"
                   else "above the line's price cap")
            price = format_amount(round(offer.unit_cost), problem.currency)
            out.append(Binding(
                family, f"{offer.product_id} ({price} {problem.currency} a unit) is {why}",
                demand_id=problem.lines[line].demand_id, product_id=offer.product_id,
                supplier_id=offer.supplier_id))
    if model.ceiling_row is not None and _ceiling_binds(problem, run, allocation, shortfall):
        taken = format_amount(ordered_value(problem, allocation), problem.currency)
        left = format_amount(problem.ceiling_left, problem.currency)
        out.append(Binding(
            "ceiling", f"the agreement ceiling left ({left} {problem.currency}) holds the "
            f"allocation back; it takes {taken}"))
    return out


def _ceiling_binds(problem: AllocationProblem, run: _Run,
                   allocation: Mapping[tuple[int, int], int], shortfall: Sequence[int]
                   ) -> bool:
    """Whether lifting the ceiling would meet more units or cost less (costs are at the
    rate on `--on`, the ceiling at the rate on `signed_on`, so the ceiling can bind
    with room left)."""
    if run.relief.get("ceiling", 0) > 0:
        return True  # the diagnosis found units that only the ceiling holds back
    values = run.solve("cost", relaxed=frozenset({"ceiling"}), slack=list(shortfall),
                       shortfall=sum(shortfall))
    assert values is not None
    cost = sum((values[col] * run.model.unit_cost[col] for col in range(run.model.num_pairs)),
               Fraction(0))
    current = sum((problem.offers[offer].unit_cost * quantity
                   for (_, offer), quantity in allocation.items()), Fraction(0))
    return cost < current - Fraction(1, 2)
