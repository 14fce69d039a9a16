"""The demo deal pack: a realistic, fictional, reproducible deal in the SPEC §4 format.

`write_demo_pack` writes a pack folder that `dronedeal import` reads: parties, products,
BOM, agreements, orders, licenses and FX rates, plus `inputs/demand.csv` for `allocate`
(a subfolder, so that the importer does not take the demand for pack data).

Determinism: the same seed and scale give byte-identical files. No clock is read and
the global `random` is never touched; each part of the deal draws from its own
`random.Random` seeded with the seed and the part's name, so a stage added later
(cases, shipments, inspections, case deliveries, payments) leaves the tables before it
unchanged.

Extension point: a table is a name and an iterable of rows (`_master_tables` below);
`write_table` streams it. Event tables are to be added the same way, as generators over
`deals.orders` that yield one row per serial, so that `--scale large` (≥ 1,000,000
ordered units) ships without holding its serials in memory.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from dronedeal.core.records import FxRate
from dronedeal.demo.catalog import Catalog, build_catalog
from dronedeal.demo.deals import Deals, agreement_yaml, build_deals
from dronedeal.demo.fx import demo_rates
from dronedeal.demo.packfiles import (
    AGREEMENTS_FILE,
    document_row,
    write_agreements,
    write_table,
)
from dronedeal.demo.scale import SCALES

DEMAND_FILE = Path("inputs") / "demand.csv"


@dataclass(frozen=True, slots=True)
class DemoSummary:
    """What a demo pack holds: rows per table, and the figures the demo promises."""

    scale: str
    seed: int
    parties: int
    products: int
    bom: int
    agreements: int
    orders: int
    licenses: int
    fx_rates: int
    demand: int
    #: the event tables, filled by later stages of the demo
    cases: int = 0
    shipments: int = 0
    inspections: int = 0
    case_deliveries: int = 0
    payments: int = 0
    ua_manufacturers: int = 0
    flagged_products: int = 0
    units_ordered: int = 0

    def table_counts(self) -> dict[str, int]:
        """Rows per pack table (and the demand), in the order the importer reads them."""
        skip = {"scale", "seed", "ua_manufacturers", "flagged_products", "units_ordered"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}


def write_demo_pack(folder: Path, *, scale: str = "small", seed: int = 2025) -> DemoSummary:
    """Write a demo deal pack of `scale` (`small` or `large`) into `folder`.

    The folder is created if needed; files of the same names are replaced, others left.
    """
    if scale not in SCALES:
        raise ValueError(f"scale {scale!r} is not one of {', '.join(SCALES)}")
    profile = SCALES[scale]
    catalog = build_catalog(_rng(seed, "catalog"), profile)
    rates = demo_rates(_rng(seed, "fx"))
    deals = build_deals(_rng(seed, "deals"), profile, catalog, rates)

    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table, rows in _master_tables(catalog, deals, rates):
        counts[table] = write_table(folder / f"{table}.csv", table, rows)
    counts["agreements"] = write_agreements(
        folder / AGREEMENTS_FILE, [agreement_yaml(a) for a in deals.agreements],
        header=f"dronedeal demo deal (scale {scale}, seed {seed}): fictional data, "
               "no real company or contract.")
    (folder / DEMAND_FILE).parent.mkdir(exist_ok=True)
    counts["demand"] = write_table(folder / DEMAND_FILE, "demand", deals.demand)

    return DemoSummary(
        scale=scale, seed=seed, **counts,
        ua_manufacturers=len(catalog.manufacturers("UA")),
        flagged_products=len(catalog.flagged),
        units_ordered=sum(o.quantity for o in deals.orders),
    )


def _rng(seed: int, part: str) -> random.Random:
    """The random source of one part of the deal; a str seed is hashed the same in every run."""
    return random.Random(f"dronedeal-demo:{seed}:{part}")


def _master_tables(catalog: Catalog, deals: Deals,
                   rates: Sequence[FxRate]) -> Iterator[tuple[str, Iterable[Sequence[str]]]]:
    """(table, rows) of the master data and rates, in the importer's dependency order."""
    yield "parties", (document_row("parties", p.document()) for p in catalog.parties)
    yield "products", (document_row("products", p.document()) for p in catalog.products)
    yield "bom", (document_row("bom", line.document()) for line in catalog.bom)
    yield "orders", (document_row("orders", o.document()) for o in deals.orders)
    yield "licenses", (document_row("licenses", lic.document()) for lic in deals.licenses)
    yield "fx_rates", (document_row("fx_rates", r.document()) for r in rates)
