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
from decimal import Decimal
from pathlib import Path

from dronedeal.core.fx import RateTable
from dronedeal.core.records import FxRate
from dronedeal.demo import events
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
    counts.update(_write_events(folder, seed, catalog, deals, rates))

    return DemoSummary(
        scale=scale, seed=seed, **counts,
        ua_manufacturers=len(catalog.manufacturers("UA")),
        flagged_products=len(catalog.flagged),
        units_ordered=sum(o.quantity for o in deals.orders),
    )


def _write_events(folder: Path, seed: int, catalog: Catalog, deals: Deals,
                  rates: Sequence[FxRate]) -> dict[str, int]:
    """The event tables (see `demo.events`), streamed; rows per table."""
    products = {p.product_id: p for p in catalog.products}
    license_flows = {f.flow_id: f.end_user_id for a in deals.agreements for f in a.flows
                     if f.license_required}
    lots = events.plan_lots(lambda part: _rng(seed, part), deals.orders, products,
                            deals.licenses, license_flows)
    us_deal = deals.agreements[0]
    table = RateTable(rates)
    drones = sum(table.convert(o.quantity * o.unit_price, o.currency, "USD", us_deal.signed_on)
                 for o in deals.orders if o.flow_id == "drones-to-us")
    us_products = [p for p in catalog.products if p.supplier_id in
                   {party.party_id for party in catalog.manufacturers("US")}]
    cases = events.build_cases(_rng(seed, "cases"), us_deal, "weapons-to-ua", us_products,
                               drones * 85 // 100)
    deliveries = events.plan_case_deliveries(_rng(seed, "case_deliveries"), cases)
    acceptances = events.Acceptances({})
    fund_due = {a.agreement_id: sum((c.share for c in a.fund.contributions), Decimal(0))
                for a in deals.agreements if a.fund is not None}
    counts = {
        "cases": write_table(folder / "cases.csv", "cases", events.case_rows(cases)),
        "shipments": write_table(folder / "shipments.csv", "shipments",
                                 events.shipment_rows(lots)),
        "inspections": write_table(folder / "inspections.csv", "inspections",
                                   events.inspection_rows(lambda part: _rng(seed, part), lots,
                                                          acceptances)),
        "case_deliveries": write_table(folder / "case_deliveries.csv", "case_deliveries",
                                       events.case_delivery_rows(deliveries)),
    }
    counts["payments"] = write_table(
        folder / "payments.csv", "payments",
        events.payment_rows(_rng(seed, "payments"), acceptances, deliveries,
                            deals.agreements, fund_due))
    return counts


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
