"""Benchmark compliance checking (SPEC §11: 10k products, 200k BOM lines,
`us-uas-supply-chain`, ≤ 5 s).

    uv run python bench/compliance.py [--products 10000] [--lines 20] [--pg URL]

Writes a deterministic catalog to a fresh SQLite database (WAL, synchronous=FULL) and,
with `--pg`, to a fresh PostgreSQL schema: 300 suppliers, N products (most of them UAS),
`lines` BOM lines each from a pool of 2,000 component makers in a dozen countries, some
Chinese, some under aliases of covered companies. Writing the catalog is not timed.
Then it times, in one transaction each:

- `check` on a fresh store: load products and BOM, digest them, evaluate every product
  of the flow, store evaluations and findings, read the findings in force — the SPEC
  figure;
- `check` again: every evaluation is re-used (the digests are unchanged);
- the rule engine alone on the same data in memory, for orientation.

Prints one JSON line per figure: {"bench": "compliance", "db", "phase", "products",
"bom_lines", "findings", "blocked_products", "seconds"}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from benchkit import postgres_database
from dronedeal.core.records import Agreement, Flow
from dronedeal.rules import builtin_library
from dronedeal.services.compliance import check
from dronedeal.store import master
from dronedeal.store.base import Base
from dronedeal.store.db import make_engine, session_factory
from dronedeal.store.master import BomLineRow, PartyRow, ProductRow
from dronedeal.store.schema import create_schema

ON = dt.date(2026, 3, 1)
RULESET = "us-uas-supply-chain"
COMPONENTS = ("flight_controller", "radio", "data_transmission", "camera", "gimbal",
              "ground_control_system", "operating_software", "network_connectivity",
              "data_storage", "gnss", "thermal_imager", "motor", "battery", "frame",
              "propeller", "other")
MAKER_COUNTRIES = (["UA"] * 50 + ["US"] * 10 + ["DE"] * 8 + ["PL"] * 7 + ["TW"] * 5
                   + ["JP"] * 5 + ["CN"] * 2 + ["NO"] * 3 + ["FR"] * 3 + ["KR"] * 3)
COVERED_MAKERS = ("SZ DJI Technology Co., Ltd.", "DJI", "Da-Jiang Innovations",
                  "Autel Robotics Co., Ltd.")
CATEGORIES = (["uas.small"] * 30 + ["uas.tactical"] * 25 + ["uas.long_range"] * 10
              + ["uas.interceptor"] * 15 + ["cuas"] * 5 + ["training"] * 5
              + ["ugv"] * 5 + ["ew"] * 5)


def emit(**figures: Any) -> None:
    print(json.dumps({"bench": "compliance", **figures}), flush=True)


def catalog(products: int, lines: int, seed: int = 848) -> tuple[
        list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Parties, products and BOM lines of a deterministic, realistic catalog."""
    rng = random.Random(seed)
    parties = [{"party_id": "us-dod", "name": "US Department of Defense", "kind": "state",
                "country": "US", "identifier": None, "version": 1}]
    suppliers = []
    for i in range(300):
        country = rng.choice(["UA"] * 85 + ["PL"] * 5 + ["US"] * 4 + ["CN"] * 3 + ["DE"] * 3)
        name = f"Supplier {i:03d} {'ТОВ' if country == 'UA' else 'Ltd.'}"
        if i in (7, 8):
            name, country = ("Autel Robotics USA LLC", "US") if i == 7 else ("DJI", "CN")
        suppliers.append(f"sup-{i:03d}")
        parties.append({"party_id": f"sup-{i:03d}", "name": name, "kind": "manufacturer",
                        "country": country, "identifier": None, "version": 1})
    makers = []
    for i in range(2000):
        country = rng.choice(MAKER_COUNTRIES)
        name = (rng.choice(COVERED_MAKERS) if i % 400 == 0
                else f"Maker {i:04d} {rng.choice(['GmbH', 'LLC', 'Co., Ltd.', 'AS', 'ТОВ'])}")
        makers.append((name, "CN" if name in COVERED_MAKERS else country))
    product_rows, bom_rows = [], []
    for p in range(products):
        pid = f"prd-{p:05d}"
        product_rows.append({
            "product_id": pid, "supplier_id": rng.choice(suppliers), "name": f"Model {p}",
            "category": rng.choice(CATEGORIES), "unit_price": rng.randrange(1_000_00, 500_000_00),
            "currency": "USD", "monthly_capacity": rng.randrange(5, 500), "nsn": None,
            "version": 1})
        for j in range(lines):
            maker, maker_country = rng.choice(makers)
            origin = maker_country if rng.random() < 0.9 else rng.choice(MAKER_COUNTRIES)
            bom_rows.append({
                "product_id": pid, "part_number": f"P{p:05d}-{j:02d}",
                "component_category": COMPONENTS[j % len(COMPONENTS)],
                "manufacturer": maker, "manufacturer_country": maker_country,
                "origin_country": origin, "quantity": 1 + j % 4, "version": 1})
    return parties, product_rows, bom_rows


def load_catalog(engine: Engine, products: int, lines: int) -> int:
    """Write the catalog and one agreement whose flow uses `us-uas-supply-chain`."""
    create_schema(engine)
    Base.metadata.create_all(engine, checkfirst=True)  # tables not yet in a revision
    parties, product_rows, bom_rows = catalog(products, lines)
    with session_factory(engine)() as session, session.begin():
        session.execute(insert(PartyRow), parties)
        session.execute(insert(ProductRow), product_rows)
        for start in range(0, len(bom_rows), 20_000):
            session.execute(insert(BomLineRow), bom_rows[start:start + 20_000])
        flow = Flow("drones-to-us", "us-dod", "us-dod", "UA", True,
                    ("uas.*", "cuas", "training"), (RULESET,))
        agreement = Agreement("ua-us-2025", "Drone deal", "USD", 3_000_000_000_000,
                              dt.date(2025, 8, 1), dt.date(2028, 12, 31), (flow,))
        master.insert_records(session, "agreement", [(agreement, 1)])
    return len(bom_rows)


def run(db: str, engine: Engine, products: int, lines: int) -> None:
    bom_lines = load_catalog(engine, products, lines)
    library = builtin_library()
    factory = session_factory(engine)
    for phase in ("check, fresh store", "check, nothing changed"):
        started = time.perf_counter()
        with factory() as session, session.begin():
            result = check(session, on=ON, library=library)
        seconds = time.perf_counter() - started
        emit(db=db, phase=phase, products=products, bom_lines=bom_lines,
             findings=len(result.findings),
             blocked_products=len({f.product_id for f in result.blocking}),
             evaluated=result.refreshed.evaluated, seconds=round(seconds, 3))
    _, product_rows, bom_rows = catalog(products, lines)
    suppliers = {p["party_id"]: p for p in catalog(0, 0)[0]}
    by_product: dict[str, list[tuple[Any, ...]]] = {}
    for b in bom_rows:
        by_product.setdefault(b["product_id"], []).append(
            (b["product_id"], b["part_number"], b["component_category"], b["manufacturer"],
             b["manufacturer_country"], b["origin_country"], b["quantity"]))
    subjects = [((p["product_id"], p["supplier_id"], suppliers[p["supplier_id"]]["name"],
                  suppliers[p["supplier_id"]]["country"], p["name"], p["category"], None,
                  p["unit_price"], "USD", p["monthly_capacity"]), by_product[p["product_id"]])
                for p in product_rows]
    started = time.perf_counter()
    found = sum(len(f) for _, f in library.get(RULESET).evaluate(subjects))
    emit(db="memory", phase="rule engine alone", products=products, bom_lines=bom_lines,
         findings=found, seconds=round(time.perf_counter() - started, 3))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=20, help="BOM lines per product")
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            run("sqlite", engine, args.products, args.lines)
        finally:
            engine.dispose()
    if args.pg:
        with postgres_database(args.pg) as url:
            engine = make_engine(url)
            try:
                run("postgresql", engine, args.products, args.lines)
            finally:
                engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
