"""The demo agreements and what fills them: orders, export licenses and a demand.

Three agreements: the Ukraine–US deal (drones to the US with a fund contribution, US
weapons back to Ukraine under a reciprocity ratio) and two "Danish model" agreements in
which Denmark and Norway pay Ukrainian makers for drones that Ukraine's forces receive.
Only the drone flows get orders: the weapons flow is fed by FMS-style cases, a table
of its own (`cases`) that a later stage adds.

What an order may name is what the importer will accept: the product's own supplier,
the flow's buyer, a category the flow admits, the catalog price and currency, a due
date from 2025-09 to 2026-12. Products are kept off a flow whose rules they fail: on the
US flow nothing with a part from CN, RU, IR or KP or by a named entity; on the European
flows nothing with a part from a sanctioned origin. Every product ordered on a flow that
needs a license gets one from Ukraine's export control service.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dronedeal.core.money import convert, format_amount
from dronedeal.core.records import (
    Agreement,
    BomLine,
    Contribution,
    Flow,
    Fund,
    FxRate,
    License,
    Order,
    Product,
    Reciprocity,
)
from dronedeal.demo.catalog import (
    EU_SANCTIONED_COUNTRIES,
    US_COVERED_COUNTRIES,
    Catalog,
    by_covered_entity,
    component_countries,
)
from dronedeal.demo.fx import month_starts
from dronedeal.demo.scale import Scale

US_RULESET = "us-uas-supply-chain"
EU_RULESET = "eu-baseline"
DUE_MONTHS = month_starts(dt.date(2025, 9, 1), 16)  # 2025-09 .. 2026-12

AGREEMENTS = (
    Agreement(
        agreement_id="ua-us-2025", title="Ukraine–United States drone deal", currency="USD",
        ceiling=30_000_000_000 * 100, signed_on=dt.date(2025, 8, 1),
        ends_on=dt.date(2028, 12, 31),
        flows=(
            Flow(flow_id="drones-to-us", buyer_id="us-dod", end_user_id="us-dod",
                 seller_country="UA", license_required=True,
                 categories=("uas.*", "cuas", "training", "tech_transfer"),
                 rulesets=(US_RULESET,)),
            Flow(flow_id="weapons-to-ua", buyer_id="ua-mod", end_user_id="ua-mod",
                 seller_country="US", license_required=False, categories=("*",), rulesets=()),
        ),
        fund=Fund(party_id="urif", contributions=(
            Contribution(flow_id="drones-to-us", payer_id="us-dod", share=Decimal("0.05")),)),
        reciprocity=Reciprocity(numerator_flow="weapons-to-ua", denominator_flow="drones-to-us",
                                min_ratio=Decimal("0.8")),
    ),
    Agreement(
        agreement_id="dk-ua-2025",
        title="Danish model: Denmark finances Ukrainian drone production", currency="DKK",
        ceiling=12_000_000_000 * 100, signed_on=dt.date(2025, 4, 10),
        ends_on=dt.date(2027, 6, 30),
        flows=(
            Flow(flow_id="dk-drones-to-ua", buyer_id="dk-mod", end_user_id="ua-mod",
                 seller_country="UA", license_required=False,
                 categories=("uas.*", "ugv", "ew", "cuas"), rulesets=(EU_RULESET,)),
        ),
    ),
    Agreement(
        agreement_id="no-ua-2025",
        title="Norwegian model: Norway finances Ukrainian drone production", currency="NOK",
        ceiling=15_000_000_000 * 100, signed_on=dt.date(2025, 6, 2),
        ends_on=dt.date(2027, 6, 30),
        flows=(
            Flow(flow_id="no-drones-to-ua", buyer_id="no-mod", end_user_id="ua-mod",
                 seller_country="UA", license_required=False,
                 categories=("uas.*", "usv", "ugv", "ew"), rulesets=(EU_RULESET,)),
        ),
    ),
)

#: Units per order (low, high); `Scale.us_quantity_factor` multiplies them on the US flow.
ORDER_QUANTITY: dict[str, tuple[int, int]] = {
    "uas.small": (50, 600), "uas.interceptor": (20, 300), "uas.tactical": (2, 30),
    "uas.long_range": (1, 8), "usv": (1, 3), "ugv": (2, 20), "cuas": (1, 5),
    "ew": (10, 100), "training": (1, 4), "tech_transfer": (1, 1), "other": (5, 50),
}
_UNSCALED = ("training", "tech_transfer")
#: An order due in a month is made over that month and the one before.
_MONTHS_OF_CAPACITY = 2
#: Licenses issued at exactly the ordered quantity and value, expiring on the last due date.
_TIGHT_LICENSE_SHARE = 0.06
DEMAND_CATEGORIES = ("uas.small", "uas.interceptor", "uas.tactical", "uas.long_range", "cuas")


@dataclass(frozen=True, slots=True)
class Deals:
    agreements: tuple[Agreement, ...]
    orders: tuple[Order, ...]
    licenses: tuple[License, ...]
    #: rows of the `demand` table, an input of `allocate` for the US drone flow
    demand: tuple[tuple[str, ...], ...]


def agreement_yaml(agreement: Agreement) -> dict[str, Any]:
    """An agreement as §4 writes it: YAML dates, amounts and shares as strings, no nulls."""
    document = agreement.document()
    document["signed_on"] = agreement.signed_on
    document["ends_on"] = agreement.ends_on
    return {key: value for key, value in document.items() if value is not None}


def build_deals(rng: random.Random, scale: Scale, catalog: Catalog,
                rates: Sequence[FxRate]) -> Deals:
    """Orders on every drone flow, licenses for those that need them, a US demand."""
    bom: dict[str, list[BomLine]] = defaultdict(list)
    for line in catalog.bom:
        bom[line.product_id].append(line)
    suppliers = {p.party_id: p for p in catalog.parties}
    load: dict[tuple[str, dt.date], int] = defaultdict(int)  # units ordered per product and month
    orders: list[Order] = []

    def add(agreement: Agreement, flow: Flow, product: Product, month: dt.date,
            wanted: int) -> int:
        room = _MONTHS_OF_CAPACITY * product.monthly_capacity - load[product.product_id, month]
        quantity = min(wanted, room)
        if quantity < 1:
            return 0
        load[product.product_id, month] += quantity
        orders.append(Order(
            order_id=f"ord-{len(orders) + 1:06d}", agreement_id=agreement.agreement_id,
            flow_id=flow.flow_id, buyer_id=flow.buyer_id, supplier_id=product.supplier_id,
            product_id=product.product_id, quantity=quantity, unit_price=product.unit_price,
            currency=product.currency, due_on=_month_end(month)))
        return quantity

    eligible: dict[str, list[Product]] = {}
    for agreement in AGREEMENTS:
        for flow in agreement.flows:
            if flow.seller_country != "UA":
                continue  # fed by cases, not orders
            eligible[flow.flow_id] = [
                p for p in catalog.products
                if suppliers[p.supplier_id].country == flow.seller_country
                and flow.admits(p.category) and _passes(flow, bom[p.product_id])]
            for_us = US_RULESET in flow.rulesets
            if for_us:
                chosen = [p for p in eligible[flow.flow_id] if rng.random() < scale.ordered_share]
            else:
                candidates = eligible[flow.flow_id]
                picked = set(rng.sample(range(len(candidates)),
                                        min(scale.eu_products, len(candidates))))
                chosen = [p for i, p in enumerate(candidates) if i in picked]
            for product in chosen:
                low, high = ORDER_QUANTITY[product.category]
                factor = 1
                if for_us and product.category not in _UNSCALED:
                    factor = scale.us_quantity_factor
                for month in sorted(rng.sample(DUE_MONTHS, rng.randint(1, 3))):
                    add(agreement, flow, product, month, rng.randint(low, high) * factor)

    # Top up the US flow with the high-volume makers until the units reach the floor.
    us_deal, us_flow = AGREEMENTS[0], AGREEMENTS[0].flows[0]
    units = sum(o.quantity for o in orders)
    volume = sorted((p for p in eligible[us_flow.flow_id]
                     if p.category in ("uas.small", "uas.interceptor")),
                    key=lambda p: (-p.monthly_capacity, p.product_id))
    for month in DUE_MONTHS:
        for product in volume:
            if units >= scale.min_units:
                break
            units += add(us_deal, us_flow, product, month, scale.min_units - units)
    assert units >= scale.min_units, f"capacity too small for {scale.min_units} units"

    products = {p.product_id: p for p in catalog.products}
    convert_on = _converter(rates)
    for agreement in AGREEMENTS:
        ordered = sum(convert_on(o.quantity * o.unit_price, o.currency, agreement.currency,
                                 agreement.signed_on)
                      for o in orders if o.agreement_id == agreement.agreement_id)
        assert ordered < agreement.ceiling // 2, f"{agreement.agreement_id} ordered {ordered}"

    licenses = _licenses(rng, orders, products)
    demand = _demand(rng, eligible[us_flow.flow_id], us_flow, convert_on)
    return Deals(agreements=AGREEMENTS, orders=tuple(orders), licenses=tuple(licenses),
                 demand=tuple(demand))


def _passes(flow: Flow, lines: Sequence[BomLine]) -> bool:
    """Whether a product's parts keep it clear of the rules of `flow` (see module docstring)."""
    countries = component_countries(lines)
    if US_RULESET in flow.rulesets:
        return not (countries & US_COVERED_COUNTRIES) and not by_covered_entity(lines)
    return not countries & EU_SANCTIONED_COUNTRIES


def _month_end(month: dt.date) -> dt.date:
    following = dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return following - dt.timedelta(days=1)


def _converter(rates: Sequence[FxRate]) -> Callable[[int, str, str, dt.date], int]:
    """Convert minor units at the latest rate on or before a date, direct or inverse."""
    table: dict[tuple[str, str], list[FxRate]] = defaultdict(list)
    for rate in sorted(rates, key=lambda r: r.date):
        table[rate.base, rate.quote].append(rate)

    def rate_on(base: str, quote: str, on: dt.date) -> Decimal:
        if base == quote:
            return Decimal(1)
        if (base, quote) in table:
            return next(r.rate for r in reversed(table[base, quote]) if r.date <= on)
        return 1 / next(r.rate for r in reversed(table[quote, base]) if r.date <= on)

    def convert_on(minor: int, source: str, target: str, on: dt.date) -> int:
        return convert(minor, source, target, rate_on(source, target, on))

    return convert_on


def _licenses(rng: random.Random, orders: Sequence[Order],
              products: Mapping[str, Product]) -> list[License]:
    """One UA export license per (product, exporter) ordered on a flow that needs one."""
    needs = {f.flow_id: f for a in AGREEMENTS for f in a.flows if f.license_required}
    ordered: dict[tuple[str, str, str], list[Order]] = defaultdict(list)
    for order in orders:
        if order.flow_id in needs:
            end_user = needs[order.flow_id].end_user_id
            ordered[order.product_id, order.supplier_id, end_user].append(order)
    groups = sorted(ordered.items())
    tight = set(rng.sample(range(len(groups)),
                           min(len(groups), max(3, round(_TIGHT_LICENSE_SHARE * len(groups))))))
    licenses = []
    for number, ((product_id, exporter_id, end_user_id), group) in enumerate(groups, 1):
        product = products[product_id]
        quantity = sum(o.quantity for o in group)
        first_due, last_due = min(o.due_on for o in group), max(o.due_on for o in group)
        valid_from = dt.date(2025, 8, 4) + dt.timedelta(days=rng.randint(0, 25))
        if number - 1 in tight:
            # Deliberately tight: nothing to spare in quantity, value or time.
            max_quantity, valid_to = quantity, last_due
            max_value = quantity * product.unit_price
        else:
            max_quantity = quantity + quantity * rng.randint(0, 50) // 100
            valid_to = last_due + dt.timedelta(days=rng.randint(90, 365))
            max_value = max_quantity * product.unit_price * 105 // 100
        assert valid_from < first_due
        assert max_quantity >= quantity
        licenses.append(License(
            license_id=f"UA-DSEC-2025-{number:05d}", authority_country="UA",
            exporter_id=exporter_id, end_user_id=end_user_id, product_id=product_id,
            max_quantity=max_quantity, max_value=max_value, currency=product.currency,
            valid_from=valid_from, valid_to=valid_to))
    return licenses


def _demand(rng: random.Random, eligible: Sequence[Product], flow: Flow,
            convert_on: Callable[[int, str, str, dt.date], int]) -> list[tuple[str, ...]]:
    """5-8 demand lines for `flow`, sized to a slice of its makers' capacity."""
    by_category: dict[str, list[Product]] = defaultdict(list)
    for product in eligible:
        by_category[product.category].append(product)
    # The allocation caps each supplier at 40% of a line, so a line needs several makers.
    categories = [c for c in DEMAND_CATEGORIES
                  if len({p.supplier_id for p in by_category[c]}) >= 4]
    assert categories, "the US flow has makers enough for a demand"
    priced_on = dt.date(2025, 8, 1)
    rows: list[tuple[str, ...]] = []
    for number in range(1, rng.randint(5, 8) + 1):
        category = categories[(number - 1) % len(categories)]
        products = by_category[category]
        capacity = sum(p.monthly_capacity for p in products)
        quantity = max(1, capacity * 6 * rng.randint(5, 15) // 100)
        if quantity >= 100:
            quantity = quantity // 10 * 10
        # Demand looks ahead: due in 2027, so that `allocate` run today has months to plan.
        due_on = _month_end(dt.date(2027, rng.randint(3, 12), 1))
        max_price = ""
        if rng.random() < 0.5:
            usd = sorted(convert_on(p.unit_price, p.currency, "USD", priced_on) for p in products)
            max_price = format_amount(-(-usd[len(usd) * 3 // 4] // 100) * 100, "USD")
        rows.append((f"dem-{number:03d}", flow.flow_id, category, str(quantity),
                     due_on.isoformat(), max_price, "USD" if max_price else ""))
    return rows
