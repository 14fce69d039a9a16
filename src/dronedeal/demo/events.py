"""The demo deal's events: shipments, inspections, purchase cases, case deliveries, payments.

What the importer accepts is what this writes, so the demo pack imports with zero
errors: each order ships in lots of 50-500 serials (fewer for small orders) on dates
between two months before its due date and the due date, never before its license is
valid nor after it expires, never more than was ordered; serials are
`<PREFIX>-<year>-<number>`, numbered per manufacturer, so a serial is unique per
manufacturer. A lot is inspected 3-20 days after it ships, in one or two sittings;
2-4% of units are rejected, each with a reason. The deal is live as of `AS_OF`:
nothing is dated after it, so orders due in the last months are partly shipped and the
latest lots are not yet inspected.

The reciprocal flow (`weapons-to-ua`) is fed by FMS-style cases: lines for US air
defence interceptors, vehicles, munitions and training, sized so that their value is
about 85% of the drones ordered by the US, delivered in monthly instalments. Payments:
the US pays Ukrainian makers for accepted units (most in full about a month later,
some partly, some late), Denmark and Norway pay their makers, Ukraine pays the US
sellers of its cases, and the US pays the fund its contributions each quarter.

Determinism: lots, inspections and payments draw from `random.Random`s seeded with
the seed and the order or lot they belong to. Memory: the lot plan (a few thousand
lots) is kept; serial rows are generated while writing.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from dronedeal.core.money import format_amount
from dronedeal.core.records import Agreement, License, Order, Product

#: the date the demo deal is seen at: no event is dated later
AS_OF = dt.date(2026, 9, 30)
#: the first day anything ships (licenses are granted from early August 2025)
FIRST_SHIPPING_DAY = dt.date(2025, 8, 11)
LOT_SIZE = (50, 500)
REJECT_RATE = (0.02, 0.04)
REJECT_REASONS = (
    "motor vibration above limit", "camera module failed acceptance test",
    "airframe crack at arm joint", "battery cell imbalance", "radio link below range spec",
    "firmware checksum mismatch", "missing serial plate", "propeller damaged in transit",
)

RngFor = Callable[[str], random.Random]


@dataclass(frozen=True, slots=True)
class Lot:
    """Units `first` … `first + units - 1` of a manufacturer's serial run, shipped
    together for one order."""

    lot_id: str
    order: Order
    prefix: str
    first: int
    units: int
    shipped_on: dt.date
    license_id: str | None

    def serials(self) -> Iterator[str]:
        year = self.shipped_on.year
        for number in range(self.first, self.first + self.units):
            yield f"{self.prefix}-{year}-{number:06d}"


@dataclass(frozen=True, slots=True)
class CaseLine:
    case_id: str
    line: int
    agreement_id: str
    flow_id: str
    seller_id: str
    buyer_id: str
    description: str
    category: str
    quantity: int
    unit_price: int
    currency: str


def serial_prefix(product: Product) -> str:
    """Two letters of the product's name and its last digit: `VZ7`."""
    letters = re.sub(r"[^A-Za-z]", "", product.name).upper()[:2] or "SN"
    return f"{letters.ljust(2, 'X')}{product.product_id[-1]}"


def plan_lots(rng_for: RngFor, orders: Sequence[Order], products: Mapping[str, Product],
              licenses: Sequence[License], license_flows: Mapping[str, str]) -> list[Lot]:
    """Every lot of the deal up to `AS_OF`, in shipping order per order.

    `license_flows` maps a flow that needs a license to its end user; an order of such a
    flow ships under the license of its product, exporter and end user.
    """
    by_key = {(lic.product_id, lic.exporter_id, lic.end_user_id): lic for lic in licenses}
    next_serial: dict[str, int] = defaultdict(lambda: 1)
    lots: list[Lot] = []
    for order in sorted(orders, key=lambda o: (o.due_on, o.order_id)):
        product = products[order.product_id]
        lic = None
        if order.flow_id in license_flows:
            lic = by_key[(order.product_id, order.supplier_id, license_flows[order.flow_id])]
        start = max(order.due_on - dt.timedelta(days=60), FIRST_SHIPPING_DAY)
        end = order.due_on
        if lic is not None:
            start = max(start, lic.valid_from)
            end = min(end, lic.valid_to)
        assert start <= end, f"order {order.order_id} has no day to ship on"
        rng = rng_for(f"lots:{order.order_id}")
        sizes: list[int] = []
        left = order.quantity
        while left > 0:
            size = min(left, rng.randint(*LOT_SIZE))
            sizes.append(size)
            left -= size
        span = (end - start).days
        for k, size in enumerate(sizes):
            shipped_on = start + dt.timedelta(days=span * (k + 1) // len(sizes))
            if shipped_on > AS_OF:
                break
            number = next_serial[order.supplier_id]
            next_serial[order.supplier_id] = number + size
            lots.append(Lot(f"LOT-{len(lots) + 1:06d}", order, serial_prefix(product), number,
                            size, shipped_on, None if lic is None else lic.license_id))
    return lots


def shipment_rows(lots: Sequence[Lot]) -> Iterator[tuple[str, ...]]:
    for lot in lots:
        order = lot.order
        shipped_on = lot.shipped_on.isoformat()
        license_id = lot.license_id or ""
        for serial in lot.serials():
            yield (serial, order.product_id, lot.lot_id, order.order_id, license_id, shipped_on)


@dataclass
class Acceptances:
    """Accepted value per (agreement, buyer, supplier, currency, month), in minor units
    of the order currency: what the buyers' payments follow."""

    value: dict[tuple[str, str, str, str, dt.date], int]


def inspection_rows(rng_for: RngFor, lots: Sequence[Lot], acceptances: Acceptances
                    ) -> Iterator[tuple[str, ...]]:
    """Inspection rows of every lot inspected by `AS_OF`, adding accepted value to
    `acceptances` as it goes."""
    for lot in lots:
        rng = rng_for(f"inspect:{lot.lot_id}")
        first_day = lot.shipped_on + dt.timedelta(days=rng.randint(3, 20))
        if first_day > AS_OF:
            continue
        second_day = first_day + dt.timedelta(days=rng.randint(1, 6))
        split = lot.units if rng.random() < 0.7 or second_day > AS_OF else (
            rng.randint(1, lot.units))
        reject_rate = rng.uniform(*REJECT_RATE)
        order = lot.order
        for position, serial in enumerate(lot.serials()):
            day = first_day if position < split else second_day
            if rng.random() < reject_rate:
                yield (serial, order.product_id, "rejected", rng.choice(REJECT_REASONS),
                       day.isoformat())
                continue
            key = (order.agreement_id, order.buyer_id, order.supplier_id, order.currency,
                   day.replace(day=1))
            acceptances.value[key] = acceptances.value.get(key, 0) + order.unit_price
            yield (serial, order.product_id, "accepted", "", day.isoformat())


# -- reciprocal cases ------------------------------------------------------------------

_CASE_CODES = ("UA-D-SAA", "UA-B-ZAB", "UA-P-LAC", "UA-D-YAD")
_CASE_CATEGORIES = ("air_defense", "munition", "vehicle", "training")


def build_cases(rng: random.Random, agreement: Agreement, flow_id: str,
                us_products: Sequence[Product], target_usd: int) -> list[CaseLine]:
    """FMS-style case lines worth about `target_usd` minor units (USD-priced products)."""
    flow = next(f for f in agreement.flows if f.flow_id == flow_id)
    by_category: dict[str, list[Product]] = defaultdict(list)
    for product in us_products:
        if product.currency == "USD" and flow.admits(product.category):
            by_category[product.category].append(product)
    picks: list[Product] = []
    for category in _CASE_CATEGORIES:
        picks.extend(sorted(by_category[category], key=lambda p: p.product_id)[:2])
    if not picks:
        picks = sorted(by_category[next(iter(sorted(by_category)))],
                       key=lambda p: p.product_id)[:4]
    share = max(target_usd // len(picks), 1)
    lines: list[CaseLine] = []
    for index, product in enumerate(picks):
        case_id = _CASE_CODES[index % len(_CASE_CODES)]
        line = sum(1 for existing in lines if existing.case_id == case_id) + 1
        quantity = max(1, share * rng.randint(80, 120) // 100 // product.unit_price)
        lines.append(CaseLine(case_id, line, agreement.agreement_id, flow_id,
                              product.supplier_id, flow.buyer_id, product.name,
                              product.category, quantity, product.unit_price,
                              product.currency))
    return lines


def case_rows(lines: Sequence[CaseLine]) -> Iterator[tuple[str, ...]]:
    for c in lines:
        yield (c.case_id, str(c.line), c.agreement_id, c.flow_id, c.seller_id, c.buyer_id,
               c.description, c.category, str(c.quantity),
               format_amount(c.unit_price, c.currency), c.currency)


@dataclass(frozen=True, slots=True)
class CaseDelivery:
    delivery_id: str
    line: CaseLine
    quantity: int
    delivered_on: dt.date


def plan_case_deliveries(rng: random.Random, lines: Sequence[CaseLine]) -> list[CaseDelivery]:
    """Monthly instalments from October 2025, 70-100% of each line by `AS_OF`."""
    deliveries: list[CaseDelivery] = []
    for line in lines:
        instalments = min(line.quantity, rng.randint(3, 8))
        total = max(1, line.quantity * rng.randint(70, 100) // 100)
        start = dt.date(2025, 10, 1) + dt.timedelta(days=rng.randint(0, 60))
        for k in range(instalments):
            quantity = total // instalments + (1 if k < total % instalments else 0)
            delivered_on = start + dt.timedelta(days=30 * k + rng.randint(0, 10))
            if quantity == 0 or delivered_on > AS_OF:
                continue
            deliveries.append(CaseDelivery(f"CD-{len(deliveries) + 1:05d}", line, quantity,
                                           delivered_on))
    return deliveries


def case_delivery_rows(deliveries: Sequence[CaseDelivery]) -> Iterator[tuple[str, ...]]:
    for d in deliveries:
        yield (d.delivery_id, d.line.case_id, str(d.line.line), str(d.quantity),
               d.delivered_on.isoformat())


# -- payments --------------------------------------------------------------------------

def payment_rows(rng: random.Random, acceptances: Acceptances,
                 deliveries: Sequence[CaseDelivery], agreements: Sequence[Agreement],
                 fund_due: Mapping[str, Decimal]) -> Iterator[tuple[str, ...]]:
    """Buyers pay accepted value (most in full, some partly, some late), Ukraine pays for
    case deliveries, the US pays the fund its share each quarter; nothing after AS_OF.

    `fund_due` maps an agreement to the share of accepted value its buyer owes the fund.
    """
    payments: list[tuple[dt.date, str, str, str, int, str, str]] = []
    fund_owed: dict[tuple[str, str, str, dt.date], int] = defaultdict(int)
    funds = {a.agreement_id: a.fund for a in agreements if a.fund is not None}
    for (agreement_id, buyer_id, supplier_id, currency, month), value in sorted(
            acceptances.value.items()):
        late = rng.random() < 0.15
        paid_on = month + dt.timedelta(days=rng.randint(40, 55) + (60 if late else 0))
        part = 100 if rng.random() < 0.75 else rng.randint(40, 90)
        amount = value * part // 100
        if agreement_id in fund_due:
            quarter = dt.date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
            share = (Decimal(value) * fund_due[agreement_id]).quantize(Decimal(1),
                                                                       ROUND_HALF_EVEN)
            fund_owed[(agreement_id, buyer_id, currency, quarter)] += int(share)
        if paid_on > AS_OF or amount <= 0:
            continue
        payments.append((paid_on, agreement_id, buyer_id, supplier_id, amount, currency,
                         f"INV-{supplier_id}-{month:%Y%m}"))
    for (agreement_id, buyer_id, currency, quarter), amount in sorted(fund_owed.items()):
        fund = funds[agreement_id]
        paid_on = quarter + dt.timedelta(days=100)
        if paid_on <= AS_OF and amount > 0:
            payments.append((paid_on, agreement_id, buyer_id, fund.party_id, amount, currency,
                             f"FUND-{quarter:%Y}Q{(quarter.month - 1) // 3 + 1}"))
    by_line: dict[tuple[str, int], list[CaseDelivery]] = defaultdict(list)
    for delivery in deliveries:
        by_line[delivery.line.case_id, delivery.line.line].append(delivery)
    for (_case, _line), items in sorted(by_line.items()):
        for delivery in items:
            line = delivery.line
            paid_on = delivery.delivered_on + dt.timedelta(days=rng.randint(20, 90))
            if paid_on > AS_OF or rng.random() < 0.2:
                continue  # not yet paid
            payments.append((paid_on, line.agreement_id, line.buyer_id, line.seller_id,
                             delivery.quantity * line.unit_price, line.currency,
                             f"{line.case_id}-{delivery.delivery_id}"))
    payments.sort()
    for number, (paid_on, agreement_id, payer, payee, amount, currency, reference) in \
            enumerate(payments, start=1):
        yield (f"PAY-{number:06d}", agreement_id, payer, payee,
               format_amount(amount, currency), currency, paid_on.isoformat(), reference)
