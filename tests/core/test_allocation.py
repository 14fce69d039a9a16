"""The allocation model on small instances solved by hand (no database; HiGHS solves).

Every instance here has one optimum, computed by hand in the test's comment, so the
cost and the allocation are asserted exactly. Prices are minor units (cents).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping, Sequence
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dronedeal.core import allocation as A
from dronedeal.core.allocation import DemandLine
from dronedeal.core.fx import RateTable
from dronedeal.core.records import Agreement, Flow, FxRate, Product
from dronedeal.services.allocation import HighsSolver

ON = dt.date(2026, 1, 10)
JAN, FEB, MAR = dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31)
FLOW = Flow("drones-to-us", "us-dod", "us-dod", "UA", True, ("uas.*", "cuas"),
            ("us-uas-supply-chain",))


def product(n: int, price: int, capacity: int, *, supplier: int | None = None,
            category: str = "uas.small", currency: str = "USD") -> Product:
    return Product(f"p{n}", f"s{n if supplier is None else supplier}", f"Product {n}",
                   category, price, currency, capacity)


def line(demand_id: str, quantity: int, due: dt.date = FEB, *, category: str = "uas.small",
         cap: int | None = None, currency: str | None = None) -> DemandLine:
    return DemandLine(demand_id, FLOW.flow_id, category, quantity, due, cap, currency)


def solve(lines: Sequence[DemandLine], products: Sequence[Product], *,
          share: str = "0.4", ceiling: int = 10**15, ordered: int = 0,
          blocked: Mapping[str, tuple[str, ...]] | None = None,
          unshipped: Mapping[tuple[str, dt.date], int] | None = None,
          rates: Sequence[FxRate] = (), on: dt.date = ON,
          country: str = "UA") -> A.AllocationResult:
    agreement = Agreement("ua-us-2025", "Drone deal", "USD", ceiling, dt.date(2025, 8, 1),
                          dt.date(2028, 12, 31), (FLOW,))
    problem = A.build_problem(
        agreement=agreement, flow=FLOW, lines=lines, products=products,
        supplier_country={p.supplier_id: country for p in products},
        blocked=blocked or {}, unshipped=unshipped or {}, rates=RateTable(rates), on=on,
        share=Decimal(share), ordered=ordered)
    return A.allocate(problem, HighsSolver)


def units(result: A.AllocationResult) -> dict[str, int]:
    return {o.product_id: o.quantity for o in result.orders}


THREE = [product(1, 10_000, 50), product(2, 12_000, 50), product(3, 15_000, 50)]


# --- optimal allocations ------------------------------------------------------------------

def test_cheapest_suppliers_first_within_the_share_cap() -> None:
    # 100 units, at most ⌊0.4·100⌋ = 40 per supplier: 40 × 100 + 40 × 120 + 20 × 150.
    result = solve([line("d1", 100)], THREE)
    assert result.feasible
    assert units(result) == {"p1": 40, "p2": 40, "p3": 20}
    assert result.total_cost == 40 * 10_000 + 40 * 12_000 + 20 * 15_000 == 1_180_000
    assert [o.order_id for o in result.orders] == ["alloc-d1-p1", "alloc-d1-p2", "alloc-d1-p3"]
    first = result.orders[0]
    assert (first.buyer_id, first.supplier_id, first.unit_price, first.currency,
            first.due_on, first.agreement_id, first.flow_id) == (
        "us-dod", "s1", 10_000, "USD", FEB, "ua-us-2025", "drones-to-us")


@pytest.mark.parametrize(("share", "expected", "cost"), [
    ("1", {"p1": 100}, 1_000_000),                 # p1 makes 50 in Jan and 50 in Feb
    ("0.5", {"p1": 50, "p2": 50}, 1_100_000),
    ("0.4", {"p1": 40, "p2": 40, "p3": 20}, 1_180_000),
    ("0.34", {"p1": 34, "p2": 34, "p3": 32}, 34 * 10_000 + 34 * 12_000 + 32 * 15_000),
])
def test_the_share_cap_changes_the_answer(share: str, expected: dict[str, int],
                                          cost: int) -> None:
    result = solve([line("d1", 100)], THREE, share=share)
    assert units(result) == expected
    assert result.total_cost == cost


def test_one_supplier_with_two_products_shares_one_cap() -> None:
    # p1 and p2 are both s1's: together at most 40 units of the line.
    products = [product(1, 10_000, 500, supplier=1), product(2, 11_000, 500, supplier=1),
                product(3, 15_000, 500), product(4, 16_000, 500)]
    result = solve([line("d1", 100)], products)
    assert units(result) == {"p1": 40, "p3": 40, "p4": 20}


def test_capacity_counts_the_months_from_on_through_the_due_month() -> None:
    # p1 makes 30 a month. Due in January: 30 from p1, the rest from p2; due in
    # March: 90 from p1 over January to March.
    products = [product(1, 10_000, 30), product(2, 12_000, 1_000)]
    assert units(solve([line("d1", 60, JAN)], products, share="1")) == {"p1": 30, "p2": 30}
    assert units(solve([line("d1", 90, MAR)], products, share="1")) == {"p1": 90}


def test_unshipped_units_of_open_orders_take_their_due_month() -> None:
    # 20 units of p1 are already ordered for January: 10 left that month, 30 in February.
    products = [product(1, 10_000, 30), product(2, 12_000, 1_000)]
    taken = {("p1", dt.date(2026, 1, 1)): 20}
    result = solve([line("d1", 60)], products, share="1", unshipped=taken)
    assert units(result) == {"p1": 40, "p2": 20}
    # An order beyond the month's capacity takes the month, never more.
    result = solve([line("d1", 60)], products, share="1",
                   unshipped={("p1", dt.date(2026, 1, 1)): 500})
    assert units(result) == {"p1": 30, "p2": 30}


def test_an_earlier_line_gets_the_early_months() -> None:
    # p1 makes 50 a month, p2 costs more. d1 (Jan) and d2 (Feb) want 50 each: p1 can
    # make both only if d1's units are made in January and d2's in February.
    products = [product(1, 10_000, 50), product(2, 20_000, 1_000)]
    result = solve([line("d1", 50, JAN), line("d2", 50, FEB)], products, share="1")
    assert {(o.order_id, o.quantity) for o in result.orders} == {
        ("alloc-d1-p1", 50), ("alloc-d2-p1", 50)}
    plan = A.production_plan(result.problem, result.allocation)
    assert plan == {(0, 0): {0: 50}, (0, 1): {1: 50}}
    # Three lines of 50 cannot all come from p1 by February: one unit goes elsewhere.
    result = solve([line("d1", 50, JAN), line("d2", 50, FEB), line("d3", 1, FEB)],
                   products, share="1")
    assert sum(o.quantity for o in result.orders if o.product_id == "p2") == 1


def test_a_line_takes_only_its_category_and_the_flows_seller_country() -> None:
    products = [product(9, 5_000, 500, category="uas.tactical"), *THREE]
    result = solve([line("d1", 100)], products)
    assert units(result) == {"p1": 40, "p2": 40, "p3": 20}
    foreign = solve([line("d1", 10)], THREE, country="CN")
    assert not foreign.orders
    assert foreign.unmet[0].constraint == "capacity"
    assert "no product of category uas.small from a supplier in UA" in foreign.unmet[0].detail


def test_price_caps_are_compared_after_conversion() -> None:
    # 1 USD = 41.5 UAH on the date. A cap of 4150.00 UAH is 100.00 USD: p1 at exactly
    # 100.00 passes, p2 at 100.01 does not; p3 at 4150.00 UAH passes unconverted.
    rates = [FxRate(dt.date(2025, 7, 1), "USD", "UAH", Decimal("41.5"))]
    products = [product(1, 10_000, 500), product(2, 10_001, 500),
                product(3, 415_000, 500, currency="UAH"), product(4, 415_100, 500,
                                                                  currency="UAH")]
    result = solve([line("d1", 10, cap=415_000, currency="UAH")], products, share="1",
                   rates=rates)
    allowed = {c.offer for c in result.problem.candidates[0] if not c.over_price_cap}
    assert {result.problem.offers[i].product_id for i in allowed} == {"p1", "p3"}
    # Without a currency the cap is in the agreement currency.
    result = solve([line("d1", 10, cap=10_000)], products, share="1", rates=rates)
    allowed = {c.offer for c in result.problem.candidates[0] if not c.over_price_cap}
    assert {result.problem.offers[i].product_id for i in allowed} == {"p1", "p3"}


def test_costs_are_in_the_agreement_currency_at_the_rate_on_the_date() -> None:
    # p2 costs 4100.00 UAH = 100.00 USD at 41 (the rate on the date): cheaper than p1.
    rates = [FxRate(dt.date(2025, 7, 1), "USD", "UAH", Decimal("40")),
             FxRate(dt.date(2026, 1, 1), "USD", "UAH", Decimal("41"))]
    products = [product(1, 10_100, 500), product(2, 410_000, 500, currency="UAH")]
    result = solve([line("d1", 10)], products, share="1", rates=rates)
    assert units(result) == {"p2": 10}
    assert result.total_cost == 100_000
    assert result.orders[0].unit_price == 410_000
    assert result.orders[0].currency == "UAH"


def test_a_blocked_product_is_skipped_even_when_cheapest() -> None:
    result = solve([line("d1", 100)], THREE, share="1", blocked={"p1": ("US-848-HW",)})
    assert units(result) == {"p2": 100}
    skipped = [b for b in result.binding if b.constraint == "compliance"]
    assert [(b.demand_id, b.product_id) for b in skipped] == [("d1", "p1")]
    assert "US-848-HW" in skipped[0].detail


def test_the_ceiling_binds_when_prices_move_between_signing_and_today() -> None:
    # p1: 5000.00 UAH, 100.00 USD today (50) but 125.00 USD at signing (40), which is
    # what the ceiling counts; p2: 110.00 USD. Ten units with 1200.00 USD left:
    # 125a + 110(10 - a) ≤ 1200 → a ≤ 6; the cheapest is a = 6: 600 + 440 = 1040.00.
    rates = [FxRate(dt.date(2025, 8, 1), "USD", "UAH", Decimal("40")),
             FxRate(dt.date(2026, 1, 1), "USD", "UAH", Decimal("50"))]
    products = [product(1, 500_000, 500, currency="UAH"), product(2, 11_000, 500)]
    free = solve([line("d1", 10)], products, share="1", rates=rates)
    assert units(free) == {"p1": 10}
    assert not [b for b in free.binding if b.constraint == "ceiling"]
    bound = solve([line("d1", 10)], products, share="1", rates=rates,
                  ceiling=1_000_000_000, ordered=1_000_000_000 - 120_000)
    assert units(bound) == {"p1": 6, "p2": 4}
    assert bound.total_cost == 104_000
    assert A.ordered_value(bound.problem, bound.allocation) == 119_000
    assert [b.constraint for b in bound.binding if b.constraint == "ceiling"] == ["ceiling"]


def test_best_partial_allocation_meets_the_most_units_at_least_cost() -> None:
    # 150 units of capacity (p1 50, p2 100) for d1 (100) + d2 (100): 150 met, 50 short.
    # Cheapest: p1 (cheap) fully used, p2 for the rest, whichever lines they serve.
    products = [product(1, 10_000, 25), product(2, 20_000, 50)]
    result = solve([line("d1", 100), line("d2", 100)], products, share="1")
    assert sum(o.quantity for o in result.orders) == 150
    assert sum(u.units for u in result.unmet) == 50
    assert result.total_cost == 50 * 10_000 + 100 * 20_000
    assert {u.constraint for u in result.unmet} == {"capacity"}


# --- infeasible demand, diagnosed ---------------------------------------------------------

def test_capacity_shortfall_names_the_line_units_and_months() -> None:
    # 3 × 40 a month × 2 months = 240 < 250; the share cap (100 each) is not the limit.
    products = [product(1, 10_000, 40), product(2, 12_000, 40), product(3, 15_000, 40)]
    result = solve([line("d1", 250)], products)
    (unmet,) = result.unmet
    assert (unmet.demand_id, unmet.units, unmet.constraint) == ("d1", 10, "capacity")
    assert unmet.constraints == ("capacity",)
    assert "240 units free from 2026-01 through 2026-02 (2026-01: 120, 2026-02: 120)" \
        in unmet.detail
    assert units(result) == {"p1": 80, "p2": 80, "p3": 80}  # the best partial allocation


def test_share_cap_shortfall_with_few_suppliers() -> None:
    result = solve([line("d1", 100)], THREE[:2])
    (unmet,) = result.unmet
    assert (unmet.demand_id, unmet.units, unmet.constraint) == ("d1", 20, "share_cap")
    assert unmet.constraints == ("share_cap",)
    assert "⌊0.4 × 100⌋ = 40" in unmet.detail


def test_a_single_unit_cannot_be_met_under_a_share_cap_below_one() -> None:
    result = solve([line("d1", 1)], THREE)
    assert [(u.units, u.constraint) for u in result.unmet] == [(1, "share_cap")]


def test_price_cap_shortfall() -> None:
    result = solve([line("d1", 50, cap=9_000)], THREE)
    (unmet,) = result.unmet
    assert (unmet.demand_id, unmet.units, unmet.constraint) == ("d1", 50, "price_cap")
    assert unmet.constraints == ("price_cap",)
    assert "3 product(s) of uas.small cost more than the cap of 90.00 USD" in unmet.detail
    assert "the cheapest of them costs 100.00 USD (p1)" in unmet.detail


def test_compliance_shortfall() -> None:
    blocked = {p.product_id: ("US-848-HW",) for p in THREE}
    result = solve([line("d1", 30)], THREE, blocked=blocked)
    (unmet,) = result.unmet
    assert (unmet.demand_id, unmet.units, unmet.constraint) == ("d1", 30, "compliance")
    assert unmet.constraints == ("compliance",)
    assert "p1 (US-848-HW)" in unmet.detail


def test_ceiling_shortfall() -> None:
    # Five suppliers at 100.00 USD, 5000.00 USD left: 50 of 100 units.
    products = [product(n, 10_000, 500) for n in range(1, 6)]
    result = solve([line("d1", 100)], products, ceiling=10_000_000, ordered=9_500_000)
    (unmet,) = result.unmet
    assert (unmet.demand_id, unmet.units, unmet.constraint) == ("d1", 50, "ceiling")
    assert unmet.constraints == ("ceiling",)
    assert "5000.00 USD left" in unmet.detail
    assert A.ordered_value(result.problem, result.allocation) == 500_000


def test_the_ceiling_holds_after_each_order_is_rounded() -> None:
    # 2.00 UAH at 3 UAH a dollar is 0.666… USD: three one-unit orders are exactly 2.00
    # USD, which fits 2.00 left, but SPEC §5 rounds each order to 0.67: 2.01. Only two
    # orders (1.34) fit once rounded.
    rates = [FxRate(dt.date(2025, 7, 1), "USD", "UAH", Decimal("3"))]
    products = [product(1, 200, 500, currency="UAH")]
    lines = [line(f"d{i}", 1) for i in range(3)]
    result = solve(lines, products, share="1", rates=rates, ceiling=10_000, ordered=9_800)
    assert len(result.orders) == 2
    assert A.ordered_value(result.problem, result.allocation) == 134
    assert [(u.units, u.constraint) for u in result.unmet] == [(1, "ceiling")]


def test_two_constraints_each_enough_are_both_named() -> None:
    # One supplier under the cap takes its 40%; relaxing either the price cap (p2, p3)
    # or the share cap (all from p1) meets the line.
    result = solve([line("d1", 100, cap=11_000)], THREE)
    (unmet,) = result.unmet
    assert (unmet.units, unmet.constraint, unmet.constraints) == (
        60, "price_cap", ("price_cap", "share_cap"))
    assert "relaxing any one of these meets the line" in unmet.detail


def test_two_constraints_needed_together() -> None:
    # The only product is above the cap and blocked: relaxing either alone admits nothing.
    result = solve([line("d1", 20, cap=9_500)], [product(2, 20_000, 500)], share="1",
                   blocked={"p2": ("US-848-HW",)})
    (unmet,) = result.unmet
    assert (unmet.units, unmet.constraint, unmet.constraints) == (
        20, "compliance", ("compliance", "price_cap"))
    assert "relaxing these together meets the line" in unmet.detail


def test_lines_due_before_the_month_of_on_cannot_be_made() -> None:
    result = solve([line("d1", 10, dt.date(2025, 12, 31)), line("d2", 10)], THREE,
                   share="1")
    assert [(u.demand_id, u.units, u.constraint) for u in result.unmet] == [
        ("d1", 10, "capacity")]
    assert "before 2026-01, the first month of production" in result.unmet[0].detail
    assert units(result) == {"p1": 10}


def test_json_shape() -> None:
    body = solve([line("d1", 100)], THREE[:2]).as_json()
    assert list(body)[:6] == ["agreement_id", "flow_id", "currency", "total_cost", "orders",
                              "unmet"]
    assert body["total_cost"] == "8800.00"
    assert body["orders"][0] == {
        "order_id": "alloc-d1-p1", "agreement_id": "ua-us-2025", "flow_id": "drones-to-us",
        "buyer_id": "us-dod", "supplier_id": "s1", "product_id": "p1", "quantity": 40,
        "unit_price": "100.00", "currency": "USD", "due_on": "2026-02-28"}
    assert body["unmet"] == [{"demand_id": "d1", "units": 20, "constraint": "share_cap"}]
    refused = solve([line("d1", 100)], THREE[:2]).as_json(with_orders=False)
    assert refused["orders"] == []
    assert refused["total_cost"] == "0.00"


# --- ids, plans and the invariant check ---------------------------------------------------

def test_order_ids_are_deterministic_and_never_reuse_a_taken_id() -> None:
    assert A.order_id("dem-1", "prd-9", frozenset()) == "alloc-dem-1-prd-9"
    taken = {"alloc-dem-1-prd-9", "alloc-dem-1-prd-9.2"}
    assert A.order_id("dem-1", "prd-9", taken) == "alloc-dem-1-prd-9.3"
    long = A.order_id("d" * 40, "p" * 40, frozenset())
    assert long == A.order_id("d" * 40, "p" * 40, frozenset())
    assert len(long) <= 64
    assert A.ORDER_ID.fullmatch(long)


def test_violations_catch_a_broken_allocation() -> None:
    result = solve([line("d1", 100)], THREE)
    assert A.violations(result.problem, result.allocation, [0]) == []
    too_much = {(0, 0): 60, (0, 1): 40, (0, 2): 1}
    broken = A.violations(result.problem, too_much, [0])
    assert any("s1 has 60 > 40 units" in b for b in broken)
    assert any("allocated" in b for b in broken)
    over_capacity = {(0, 0): 101}
    assert any("monthly capacity" in b
               for b in A.violations(result.problem, over_capacity, [-1]))


# --- against brute force ------------------------------------------------------------------

def brute_force(problem: A.AllocationProblem) -> tuple[int, int]:
    """(least total shortfall, least exact cost at it) by enumerating every allocation."""
    pairs = [(i, c.offer) for i, cands in enumerate(problem.candidates) for c in cands
             if not problem.excluded(i, c)]
    best: tuple[int, float] | None = None
    ranges = [range(problem.lines[i].quantity + 1) for i, _ in pairs]
    for values in itertools.product(*ranges):
        allocation = {pair: v for pair, v in zip(pairs, values, strict=True) if v}
        met = [0] * len(problem.lines)
        for (i, _), v in allocation.items():
            met[i] += v
        if any(m > line.quantity for m, line in zip(met, problem.lines, strict=True)):
            continue
        shortfall = [line.quantity - m for m, line in zip(met, problem.lines, strict=True)]
        if A.violations(problem, allocation, shortfall):
            continue
        key = (sum(shortfall), float(sum(problem.offers[o].unit_cost * v
                                         for (_, o), v in allocation.items())))
        best = key if best is None or key < best else best
    assert best is not None
    return best[0], round(best[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    quantities=st.lists(st.integers(1, 4), min_size=1, max_size=2),
    dues=st.lists(st.sampled_from([JAN, FEB]), min_size=2, max_size=2),
    offers=st.lists(st.tuples(st.integers(1, 9), st.integers(0, 3)), min_size=3, max_size=3),
    share=st.sampled_from(["1", "0.5", "0.7"]),
    ceiling=st.integers(0, 60),
)
def test_the_optimum_equals_brute_force(quantities: list[int], dues: list[dt.date],
                                        offers: list[tuple[int, int]], share: str,
                                        ceiling: int) -> None:
    count = 3 if len(quantities) == 1 else 2  # keeps the enumeration small
    products = [product(n, offers[n][0] * 100, offers[n][1]) for n in range(count)]
    lines = [line(f"d{i}", q, dues[i]) for i, q in enumerate(quantities)]
    result = solve(lines, products, share=share, ceiling=ceiling * 100)
    shortfall = [0] * len(lines)
    for unmet in result.unmet:
        shortfall[int(unmet.demand_id[1:])] = unmet.units
    assert A.violations(result.problem, result.allocation, shortfall) == []
    least, cost = brute_force(result.problem)
    assert sum(shortfall) == least
    assert result.total_cost == cost
