"""Benchmark the allocation (SPEC §11): 300 suppliers, 1,000 products, 24 months.

    uv run python bench/allocation.py [--lines 50] [--seed 7]
        [--pg postgresql://127.0.0.1:5432/test?user=postgres]

Writes a deal into a fresh SQLite file (and, with `--pg`, a fresh PostgreSQL schema):
300 Ukrainian makers with 1,000 products in five drone categories, prices in USD and
UAH, a BOM per product (a few with a covered camera, which the US rules block), open
orders over the 24 months, USD/UAH rates; then allocates a demand of 50 lines due
across those months, sized to about half the free capacity of their category. Prints
one JSON line per database: loading (store reads, the compliance gate), model build
and solve seconds separately, and the solver's status ("optimal" when every line is
met at a proven least cost).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from benchkit import emit, postgres_database, sqlite_database
from dronedeal.core.allocation import DemandLine, add_months, month_start
from dronedeal.core.records import Agreement, BomLine, Flow, FxRate, Order, Party, Product
from dronedeal.services.allocation import allocate
from dronedeal.store import master
from dronedeal.store.db import make_engine
from dronedeal.store.schema import create_schema

SUPPLIERS = 300
PRODUCTS = 1_000
MONTHS = 24
CATEGORIES = ("uas.small", "uas.tactical", "uas.long_range", "uas.interceptor", "cuas")
ON = dt.date(2026, 1, 15)
FLOW = Flow("drones-to-us", "us-dod", "us-dod", "UA", True,
            ("uas.*", "cuas", "training", "tech_transfer"), ("us-uas-supply-chain",))


def month_end(first: dt.date) -> dt.date:
    return add_months(first, 1) - dt.timedelta(days=1)


def deal(rng: random.Random) -> dict[str, list[Any]]:
    """The master data of the benchmark deal."""
    parties: list[Party] = [Party("us-dod", "US Department of Defense", "state", "US")]
    parties += [Party(f"ua-mfr-{i:03d}", f"Maker {i:03d} LLC", "manufacturer", "UA")
                for i in range(SUPPLIERS)]
    products: list[Product] = []
    bom: list[BomLine] = []
    for i in range(PRODUCTS):
        category = CATEGORIES[i % len(CATEGORIES)]
        base = {"uas.small": 40_000, "uas.tactical": 900_000, "uas.long_range": 9_000_000,
                "uas.interceptor": 300_000, "cuas": 2_500_000}[category]
        usd = rng.random() < 0.7
        price = rng.randint(base * 8 // 10, base * 13 // 10)
        products.append(Product(
            f"prd-{i:05d}", f"ua-mfr-{i % SUPPLIERS:03d}", f"Product {i}", category,
            price if usd else price * 41, "USD" if usd else "UAH",
            rng.randint(20, 400) if category in ("uas.small", "uas.interceptor")
            else rng.randint(5, 60)))
        covered = rng.random() < 0.03
        bom.append(BomLine(f"prd-{i:05d}", f"FC-{i}", "flight_controller", "Vezha Aero LLC",
                           "UA", "UA", 1))
        bom.append(BomLine(f"prd-{i:05d}", f"CAM-{i}", "camera",
                           "Shenzhen Optics Co., Ltd." if covered else "Optika Kyiv",
                           "CN" if covered else "UA", "CN" if covered else "UA", 1))
    agreement = Agreement("ua-us-2025", "Drone deal", "USD", 30_000_000_000 * 100,
                          dt.date(2025, 8, 1), dt.date(2028, 12, 31), (FLOW,))
    first = month_start(ON)
    orders = [Order(f"ord-{n:06d}", "ua-us-2025", FLOW.flow_id, "us-dod", p.supplier_id,
                    p.product_id, rng.randint(1, max(1, p.monthly_capacity // 2)),
                    p.unit_price, p.currency, month_end(add_months(first, rng.randrange(MONTHS))))
              for n, p in enumerate(rng.sample(products, 600))]
    rates = [FxRate(dt.date(2025, 7, 1), "USD", "UAH", Decimal("41.3")),
             FxRate(dt.date(2026, 1, 2), "USD", "UAH", Decimal("42.05"))]
    return {"party": parties, "product": products, "bom_line": bom,
            "agreement": [agreement], "order": orders, "fx_rate": rates}


def demand(rng: random.Random, data: dict[str, list[Any]], lines: int) -> list[DemandLine]:
    """`lines` lines spread over the categories and months, each about half of the
    capacity its category has free through its due month, shared with the others."""
    capacity: dict[str, int] = dict.fromkeys(CATEGORIES, 0)
    for p in data["product"]:
        capacity[p.category] += p.monthly_capacity
    first = month_start(ON)
    out = []
    for n in range(lines):
        category = CATEGORIES[n % len(CATEGORIES)]
        due = rng.randrange(MONTHS // 4, MONTHS)
        share = capacity[category] * (due + 1) // (lines // len(CATEGORIES)) // 3
        out.append(DemandLine(f"dem-{n:03d}", FLOW.flow_id, category,
                              max(10, rng.randint(share // 2, share)),
                              month_end(add_months(first, due)),
                              None if n % 3 else _cap(category), None if n % 3 else "USD"))
    return out


def _cap(category: str) -> int:
    return {"uas.small": 48_000, "uas.tactical": 1_100_000, "uas.long_range": 11_000_000,
            "uas.interceptor": 360_000, "cuas": 3_000_000}[category]


def run(url: str, database: str, lines: int, seed: int) -> None:
    rng = random.Random(seed)
    data = deal(rng)
    wanted = demand(rng, data, lines)
    engine = make_engine(url)
    create_schema(engine)
    with Session(engine) as session, session.begin():
        for kind in master.KIND_ORDER:
            master.insert_records(session, kind, [(r, 1) for r in data.get(kind, [])])
    # First run evaluates the compliance rules on every product (a cache); time the
    # second, which is what an officer's repeated allocations see.
    for attempt in range(2):
        start = time.perf_counter()
        with Session(engine) as session, session.begin():
            outcome = allocate(session, agreement_id="ua-us-2025", flow_id=FLOW.flow_id,
                               demand=wanted, on=ON)
        total = time.perf_counter() - start
        if attempt == 0:
            first_load = outcome.load_seconds
    engine.dispose()
    result = outcome.result
    emit(bench="allocation", database=database, suppliers=SUPPLIERS, products=PRODUCTS,
         months=MONTHS, lines=lines,
         variables=sum(len(cands) for cands in result.problem.candidates),
         load_seconds=round(outcome.load_seconds, 3),
         first_load_seconds=round(first_load, 3),
         build_seconds=round(result.build_seconds, 3),
         solve_seconds=round(result.solve_seconds, 3), solves=result.solves,
         total_seconds=round(total, 3), orders=len(result.orders),
         units=sum(o.quantity for o in result.orders),
         status="optimal" if result.feasible else "infeasible",
         target_seconds=10.0,
         met=result.build_seconds + result.solve_seconds <= 10.0 and result.feasible)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pg", help="also run on this PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, sqlite_database(Path(folder)) as url:
        run(url, "sqlite", args.lines, args.seed)
    if args.pg:
        with postgres_database(args.pg) as url:
            run(url, "postgresql", args.lines, args.seed)


if __name__ == "__main__":
    main()
