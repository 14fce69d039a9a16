"""Benchmark the manifest import (SPEC §11: 1M shipments then 1M inspections ≤ 15 s,
peak RSS ≤ 1.5 GB, against the floor of a plain `executemany`).

    uv run python bench/import.py [--n 1000000] [--pg postgresql://127.0.0.1:5432/test?user=postgres]

Writes a deal pack (10 Ukrainian makers, 20 products, 20 orders and export licenses)
and two event packs: N shipment rows in lots of 250 serials, then N inspection rows
(~3% rejected with a reason, the rest accepted). Imports the master pack (untimed),
then the shipments pack and then the inspections pack, each as `dronedeal import`
does: one transaction, every gate of SPEC §3 inv. 6-7, license draws, one log leaf per
row, acceptance and fund transfers per lot and date. Peak RSS is the process's
high-water mark (`resource.getrusage`); `reader_peak_rss_mb` that of the largest process
it forked to read a manifest (`services.manifest_reader`), most of it shared with this one.

The floor, measured in the same run on the same database: the same rows, parsed
(`csv.reader`, untimed), written into bare tables of the same columns (primary key
only) by the database's plain bulk path — `executemany` on SQLite, `COPY` on
PostgreSQL — in batches of 20,000, one transaction. Prints one JSON line per database.

Beside the wall-clock figures it prints the CPU seconds of this process (all its threads)
and of the reader processes it forks, for the imports and for the floor: on SQLite the
database works inside the process, so on a machine shared with other work `cpu_ratio` is
the steadier figure (on PostgreSQL the server's share is not in it).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from benchkit import emit, postgres_database
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.store.db import make_engine
from dronedeal.store.schema import create_schema

MAKERS = 10
PRODUCTS = 20
LOT = 250
BATCH = 20_000
FIRST_DAY = dt.date(2025, 10, 1)

AGREEMENT = """- agreement_id: ua-us-2025
  title: Ukraine–United States drone deal
  currency: USD
  ceiling: "30000000000"
  signed_on: 2025-08-01
  ends_on: 2028-12-31
  flows:
    - flow_id: drones-to-us
      buyer_id: us-dod
      end_user_id: us-dod
      seller_country: UA
      license_required: true
      categories: ["uas.*"]
      rulesets: [us-uas-supply-chain]
  fund:
    party_id: urif
    contributions:
      - {flow_id: drones-to-us, payer_id: us-dod, share: "0.05"}
"""


def peak_rss_mb(who: int = resource.RUSAGE_SELF) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU seconds of this process and of its child processes that have ended."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def write_packs(folder: Path, n: int) -> tuple[Path, Path, Path]:
    """The master pack, the shipments pack and the inspections pack, streamed to disk."""
    master, shipped, inspected = folder / "master", folder / "shipments", folder / "inspections"
    for path in (master, shipped, inspected):
        path.mkdir(parents=True)
    per_order = -(-n // PRODUCTS)
    (master / "agreements.yaml").write_text(AGREEMENT, encoding="utf-8")
    with (master / "parties.csv").open("w", encoding="utf-8") as out:
        out.write("party_id,name,kind,country,identifier\n"
                  "us-dod,US Department of Defense,state,US,\n"
                  "urif,Reconstruction Investment Fund,fund,US,\n")
        out.writelines(f"ua-mfr-{m:03d},Maker {m},manufacturer,UA,\n" for m in range(MAKERS))
    with (master / "products.csv").open("w", encoding="utf-8") as out:
        out.write("product_id,supplier_id,name,category,unit_price,currency,"
                  "monthly_capacity,nsn\n")
        out.writelines(f"prd-{p:04d},ua-mfr-{p % MAKERS:03d},Drone {p},uas.small,"
                       f"{400 + p}.50,USD,100000,\n" for p in range(PRODUCTS))
    with (master / "bom.csv").open("w", encoding="utf-8") as out:
        out.write("product_id,part_number,component_category,manufacturer,"
                  "manufacturer_country,origin_country,quantity\n")
        out.writelines(f"prd-{p:04d},FC-{p},flight_controller,Maker {p % MAKERS},UA,UA,1\n"
                       for p in range(PRODUCTS))
    with (master / "orders.csv").open("w", encoding="utf-8") as out:
        out.write("order_id,agreement_id,flow_id,buyer_id,supplier_id,product_id,quantity,"
                  "unit_price,currency,due_on\n")
        out.writelines(f"ord-{p:04d},ua-us-2025,drones-to-us,us-dod,ua-mfr-{p % MAKERS:03d},"
                       f"prd-{p:04d},{per_order},{400 + p}.50,USD,2026-12-31\n"
                       for p in range(PRODUCTS))
    with (master / "licenses.csv").open("w", encoding="utf-8") as out:
        out.write("license_id,authority_country,exporter_id,end_user_id,product_id,"
                  "max_quantity,max_value,currency,valid_from,valid_to\n")
        out.writelines(f"lic-{p:04d},UA,ua-mfr-{p % MAKERS:03d},us-dod,prd-{p:04d},"
                       f"{per_order},{per_order * (401 + p)}.00,USD,2025-09-01,2027-06-30\n"
                       for p in range(PRODUCTS))
    (master / "fx_rates.csv").write_text("date,base,quote,rate\n2025-08-01,USD,UAH,41.52\n",
                                         encoding="utf-8")
    with (shipped / "shipments.csv").open("w", encoding="utf-8", newline="") as ships, \
            (inspected / "inspections.csv").open("w", encoding="utf-8", newline="") as checks:
        ship_rows, check_rows = csv.writer(ships), csv.writer(checks)
        ship_rows.writerow(("serial", "product_id", "lot_id", "order_id", "license_id",
                            "shipped_on"))
        check_rows.writerow(("serial", "product_id", "result", "reason", "inspected_on"))
        for i in range(n):
            p = (i // LOT) % PRODUCTS
            lot = i // LOT
            shipped_on = FIRST_DAY + dt.timedelta(days=lot % 240)
            serial = f"VZ{p % MAKERS}-2025-{i:07d}"
            ship_rows.writerow((serial, f"prd-{p:04d}", f"LOT-{lot:06d}", f"ord-{p:04d}",
                                f"lic-{p:04d}", shipped_on.isoformat()))
            rejected = i % 33 == 7
            check_rows.writerow((serial, f"prd-{p:04d}", "rejected" if rejected else "accepted",
                                 "motor vibration above limit" if rejected else "",
                                 (shipped_on + dt.timedelta(days=3 + lot % 5)).isoformat()))
    return master, shipped, inspected


FLOOR_TABLES = {
    "shipments": ("CREATE TABLE floor_shipment (serial VARCHAR(64) PRIMARY KEY, "
                  "product_id VARCHAR(64), lot_id VARCHAR(64), order_id VARCHAR(64), "
                  "license_id VARCHAR(64), shipped_on DATE)", "floor_shipment", 6),
    "inspections": ("CREATE TABLE floor_inspection (serial VARCHAR(64) PRIMARY KEY, "
                    "product_id VARCHAR(64), result VARCHAR(8), reason TEXT, "
                    "inspected_on DATE)", "floor_inspection", 5),
}


def floor(engine: Engine, table: str, path: Path) -> tuple[float, float]:
    """Seconds (wall clock, then this process's CPU) to write the file's parsed rows into a
    bare table by the plain bulk path."""
    create, name, width = FLOOR_TABLES[table]
    with engine.begin() as connection:
        connection.exec_driver_sql(create)
    seconds = cpu = 0.0
    with path.open(encoding="utf-8", newline="") as handle, engine.begin() as connection:
        reader = csv.reader(handle)
        next(reader)
        while True:
            rows: list[tuple[Any, ...]] = [
                tuple(cell or None for cell in row) for row, _ in zip(reader, range(BATCH),
                                                                     strict=False)]
            if not rows:
                break
            start, start_cpu = time.perf_counter(), cpu_seconds()
            if engine.dialect.name == "postgresql":
                raw: Any = connection.connection.driver_connection
                with raw.cursor() as cursor, cursor.copy(f"COPY {name} FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join("?" for _ in range(width))
                connection.exec_driver_sql(f"INSERT INTO {name} VALUES ({marks})", rows)
            seconds += time.perf_counter() - start
            cpu += cpu_seconds() - start_cpu
    return seconds, cpu


def timed_import(engine: Engine, folder: Path, signer: keys.Signer) -> tuple[float, float]:
    """Seconds (wall clock, then CPU of this process and its readers) to import `folder`,
    commit included."""
    start, start_cpu = time.perf_counter(), cpu_seconds()
    with Session(engine) as session, session.begin():
        import_pack(session, folder, signer)
    return time.perf_counter() - start, cpu_seconds() - start_cpu


def run(db: str, url: str, n: int, packs: tuple[Path, Path, Path], signer: keys.Signer) -> None:
    master, shipped, inspected = packs
    engine = make_engine(url)
    create_schema(engine)
    timed_import(engine, master, signer)
    floor_ship = floor(engine, "shipments", shipped / "shipments.csv")
    floor_inspect = floor(engine, "inspections", inspected / "inspections.csv")
    floor_seconds, floor_cpu = floor_ship[0] + floor_inspect[0], floor_ship[1] + floor_inspect[1]
    ship_seconds, ship_cpu = timed_import(engine, shipped, signer)
    inspect_seconds, inspect_cpu = timed_import(engine, inspected, signer)
    total, cpu = ship_seconds + inspect_seconds, ship_cpu + inspect_cpu
    emit(bench="import.manifests", db=db, n=n, shipments_seconds=round(ship_seconds, 2),
         inspections_seconds=round(inspect_seconds, 2), seconds=round(total, 2),
         rows_per_s=round(2 * n / total), floor_seconds=round(floor_seconds, 2),
         ratio=round(total / floor_seconds, 2), cpu_seconds=round(cpu, 2),
         floor_cpu_seconds=round(floor_cpu, 2), cpu_ratio=round(cpu / floor_cpu, 2),
         peak_rss_mb=peak_rss_mb(), reader_peak_rss_mb=peak_rss_mb(resource.RUSAGE_CHILDREN))
    engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="shipment (and inspection) rows")
    parser.add_argument("--pg", metavar="URL", help="also run on this PostgreSQL database")
    parser.add_argument("--no-sqlite", action="store_true", help="only run on --pg")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="dronedeal-bench-") as folder:
        signer = keys.create_key(Path(folder) / "signing.key", "bench.dronedeal/log")
        packs = write_packs(Path(folder) / "packs", args.n)
        if not args.no_sqlite:
            run("sqlite", f"sqlite:///{Path(folder) / 'bench.db'}", args.n, packs, signer)
        if args.pg:
            with postgres_database(args.pg) as url:
                run("postgresql", url, args.n, packs, signer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
