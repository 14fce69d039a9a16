"""The demo deal pack: SPEC §4 format, references that resolve, planted compliance cases.

The checks read the written files back with the standard library and the SPEC's own
words (headers, vocabularies, admission patterns), not with the generator's constants.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import random
import re
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from dronedeal.core.iso import COUNTRIES, CURRENCY_DIGITS
from dronedeal.demo.catalog import build_catalog
from dronedeal.demo.deals import build_deals
from dronedeal.demo.fx import demo_rates
from dronedeal.demo.generator import DemoSummary, write_demo_pack
from dronedeal.demo.scale import SCALES

# SPEC §4, copied from the table: columns in this order.
SPEC_HEADERS = {
    "parties": "party_id, name, kind, country, identifier",
    "products": "product_id, supplier_id, name, category, unit_price, currency, "
                "monthly_capacity, nsn",
    "bom": "product_id, part_number, component_category, manufacturer, manufacturer_country, "
           "origin_country, quantity",
    "orders": "order_id, agreement_id, flow_id, buyer_id, supplier_id, product_id, quantity, "
              "unit_price, currency, due_on",
    "licenses": "license_id, authority_country, exporter_id, end_user_id, product_id, "
                "max_quantity, max_value, currency, valid_from, valid_to",
    "fx_rates": "date, base, quote, rate",
    "demand": "demand_id, flow_id, category, quantity, due_on, max_unit_price, currency",
    "shipments": "serial, product_id, lot_id, order_id, license_id, shipped_on",
    "inspections": "serial, product_id, result, reason, inspected_on",
    "cases": "case_id, line, agreement_id, flow_id, seller_id, buyer_id, description, "
             "category, quantity, unit_price, currency",
    "case_deliveries": "delivery_id, case_id, line, quantity, delivered_on",
    "payments": "payment_id, agreement_id, payer_id, payee_id, amount, currency, paid_on, "
                "reference",
}
EVENT_TABLES = ("cases", "shipments", "inspections", "case_deliveries", "payments")
CATEGORIES = {"uas.small", "uas.tactical", "uas.long_range", "uas.interceptor", "usv", "ugv",
              "cuas", "ew", "air_defense", "munition", "vehicle", "training", "tech_transfer",
              "other"}
COMPONENTS = {"flight_controller", "radio", "data_transmission", "camera", "gimbal",
              "ground_control_system", "operating_software", "network_connectivity",
              "data_storage", "gnss", "thermal_imager", "motor", "battery", "frame", "propeller",
              "other"}
DRONES = {"uas.small", "uas.tactical", "uas.long_range", "uas.interceptor", "usv", "ugv"}
COVERED = {"CN", "RU", "IR", "KP"}
# FY2020 NDAA §848: hardware, plus the data prong (where data is stored or transmitted).
US_848 = {"flight_controller", "radio", "data_transmission", "camera", "gimbal",
          "data_storage", "network_connectivity"}
ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
RATE = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]{0,5}[1-9])?")


Pack = dict[str, Any]


def read_pack(folder: Path) -> Pack:
    pack: Pack = {}
    for table in ("parties", "products", "bom", "orders", "licenses", "fx_rates",
                  *EVENT_TABLES):
        with (folder / f"{table}.csv").open(encoding="utf-8", newline="") as handle:
            pack[table] = list(csv.DictReader(handle))
    with (folder / "inputs" / "demand.csv").open(encoding="utf-8", newline="") as handle:
        pack["demand"] = list(csv.DictReader(handle))
    pack["agreements"] = yaml.safe_load((folder / "agreements.yaml").read_text("utf-8"))
    return pack


@pytest.fixture(scope="module", params=[2025, 1])
def small(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary, Pack]:
    folder = tmp_path_factory.mktemp("small") / "pack"
    summary = write_demo_pack(folder, seed=request.param)
    return folder, summary, read_pack(folder)


@pytest.fixture(scope="module")
def pack(small: tuple[Path, DemoSummary, Pack]) -> Pack:
    return small[2]


def admits(categories: list[str], category: str) -> bool:
    return any(p in ("*", category) or (p.endswith(".*") and category.startswith(p[:-1]))
               for p in categories)


def flows(pack: Pack) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    return {f["flow_id"]: (a, f) for a in pack["agreements"] for f in a["flows"]}


def bom_by_product(pack: Pack) -> dict[str, list[dict[str, str]]]:
    lines: dict[str, list[dict[str, str]]] = defaultdict(list)
    for line in pack["bom"]:
        lines[line["product_id"]].append(line)
    return lines


def us_flagged(lines: list[dict[str, str]]) -> bool:
    """What the US §848 rules block: a covered category made in or by CN, RU, IR or KP."""
    return any(line["component_category"] in US_848
               and ({line["manufacturer_country"], line["origin_country"]} & COVERED
                    or re.search(r"\bdji\b|autel robotics", line["manufacturer"].lower()))
               for line in lines)


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path: Path) -> None:
    def files(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes()
                for p in sorted(folder.rglob("*")) if p.is_file()}

    write_demo_pack(tmp_path / "a", seed=7)
    write_demo_pack(tmp_path / "b", seed=7)
    write_demo_pack(tmp_path / "c", seed=8)
    a, b, c = files(tmp_path / "a"), files(tmp_path / "b"), files(tmp_path / "c")
    assert a == b
    assert set(a) == set(c)
    for name in ("parties.csv", "products.csv", "bom.csv", "orders.csv", "licenses.csv",
                 "fx_rates.csv", "inputs/demand.csv"):
        assert a[name] != c[name], name


def test_headers_are_exactly_those_of_spec_section_4(small: tuple[Path, DemoSummary, Pack]) -> None:
    folder = small[0]
    for table, header in SPEC_HEADERS.items():
        path = folder / "inputs" / "demand.csv" if table == "demand" else folder / f"{table}.csv"
        first = path.read_text(encoding="utf-8").split("\n", 1)[0]
        assert first == header.replace(", ", ","), table
    assert not (folder / "demand.csv").exists(), "the demand is not pack data"


def test_summary_counts_the_rows_written(small: tuple[Path, DemoSummary, Pack]) -> None:
    _folder, summary, pack = small
    for table in ("parties", "products", "bom", "orders", "licenses", "fx_rates", "demand",
                  "agreements"):
        assert summary.table_counts()[table] == len(pack[table]), table
    assert summary.units_ordered == sum(int(o["quantity"]) for o in pack["orders"])
    for table in EVENT_TABLES:
        assert summary.table_counts()[table] == len(pack[table]), table


def test_catalog_is_large_and_covers_every_category(pack: Pack) -> None:
    makers = [p for p in pack["parties"] if p["kind"] == "manufacturer" and p["country"] == "UA"]
    assert len(makers) >= 40
    assert len({m["name"] for m in makers}) == len(makers)
    assert all(re.fullmatch(r"ua-mfr-\d{3}", m["party_id"]) for m in makers)
    assert any(p["kind"] == "manufacturer" and p["country"] == "US" for p in pack["parties"])
    assert len(pack["products"]) >= 120
    assert {p["category"] for p in pack["products"]} == CATEGORIES
    kinds = {p["party_id"]: (p["kind"], p["country"]) for p in pack["parties"]}
    assert kinds["urif"] == ("fund", "US")
    countries = {party_id: country for party_id, (_kind, country) in kinds.items()}
    assert countries.items() >= {"us-dod": "US", "ua-mod": "UA", "dk-mod": "DK",
                                 "no-mod": "NO"}.items()
    assert any(kind == "auditor" for kind, _c in kinds.values())


def test_vocabularies_ids_and_countries(pack: Pack) -> None:
    assert {p["kind"] for p in pack["parties"]} <= {"state", "agency", "manufacturer", "fund",
                                                     "auditor", "other"}
    assert all(p["country"] in COUNTRIES for p in pack["parties"])
    assert {line["component_category"] for line in pack["bom"]} <= COMPONENTS
    for line in pack["bom"]:
        assert {line["manufacturer_country"], line["origin_country"]} <= COUNTRIES
        assert int(line["quantity"]) >= 1
    for table, column in (("parties", "party_id"), ("products", "product_id"),
                          ("orders", "order_id"), ("licenses", "license_id"),
                          ("bom", "part_number")):
        ids = [row[column] for row in pack[table]]
        assert all(ID.fullmatch(i) for i in ids), table
        if table != "bom":
            assert len(set(ids)) == len(ids), f"{table} ids are unique"
    for product in pack["products"]:
        assert int(product["monthly_capacity"]) >= 1
        assert product["nsn"] == "" or re.fullmatch(r"\d{4}-\d{2}-\d{3}-\d{4}", product["nsn"])
    assert any(p["nsn"] for p in pack["products"]), "some products have a stock number"
    assert any(not p["nsn"] for p in pack["products"]), "and some have none"


def test_boms_of_drones_have_6_to_12_lines_with_unique_part_numbers(pack: Pack) -> None:
    lines = bom_by_product(pack)
    products = {p["product_id"]: p for p in pack["products"]}
    assert set(lines) <= set(products)
    for product_id, product in products.items():
        if product["category"] in DRONES:
            assert 6 <= len(lines[product_id]) <= 12, product_id
        parts = [line["part_number"] for line in lines[product_id]]
        assert len(set(parts)) == len(parts), product_id


def test_amounts_have_exactly_the_currency_digits(pack: Pack) -> None:
    def exact(amount: str, currency: str) -> bool:
        places = CURRENCY_DIGITS[currency]
        pattern = rf"(0|[1-9][0-9]*)\.[0-9]{{{places}}}" if places else r"(0|[1-9][0-9]*)"
        return re.fullmatch(pattern, amount) is not None

    for product in pack["products"]:
        assert exact(product["unit_price"], product["currency"]), product
    for order in pack["orders"]:
        assert exact(order["unit_price"], order["currency"]), order
    for lic in pack["licenses"]:
        assert exact(lic["max_value"], lic["currency"]), lic
    for line in pack["demand"]:
        assert (line["max_unit_price"] == line["currency"] == ""
                or exact(line["max_unit_price"], line["currency"]))
    assert {p["currency"] for p in pack["products"]} == {"USD", "UAH", "EUR"}


def test_typical_prices_are_realistic(pack: Pack) -> None:
    usd = {p["product_id"]: Decimal(p["unit_price"]) for p in pack["products"]
           if p["currency"] == "USD"}
    by_category: dict[str, list[Decimal]] = defaultdict(list)
    for product in pack["products"]:
        if product["product_id"] in usd:
            by_category[product["category"]].append(usd[product["product_id"]])
    assert all(2_500 <= price <= 6_000 for price in by_category["uas.interceptor"])
    assert all(150_000 <= price <= 400_000 for price in by_category["uas.long_range"])
    assert max(by_category["air_defense"]) >= 1_000_000


def test_agreements_are_those_of_the_deal(pack: Pack) -> None:
    agreements = {a["agreement_id"]: a for a in pack["agreements"]}
    assert len(agreements) == 3
    us = agreements["ua-us-2025"]
    assert (us["currency"], Decimal(us["ceiling"])) == ("USD", Decimal(30_000_000_000))
    assert us["signed_on"] == dt.date(2025, 8, 1)
    drones, weapons = us["flows"]
    assert (drones["flow_id"], drones["buyer_id"], drones["seller_country"]) == (
        "drones-to-us", "us-dod", "UA")
    assert drones["license_required"] is True
    assert drones["categories"] == ["uas.*", "cuas", "training", "tech_transfer"]
    assert drones["rulesets"] == ["us-uas-supply-chain"]
    assert (weapons["flow_id"], weapons["buyer_id"], weapons["seller_country"]) == (
        "weapons-to-ua", "ua-mod", "US")
    assert (weapons["license_required"], weapons["categories"]) == (False, ["*"])
    assert us["fund"] == {"party_id": "urif", "contributions": [
        {"flow_id": "drones-to-us", "payer_id": "us-dod", "share": "0.05"}]}
    assert us["reciprocity"] == {"numerator_flow": "weapons-to-ua",
                                 "denominator_flow": "drones-to-us", "min_ratio": "0.8"}
    danish = agreements["dk-ua-2025"]
    assert danish["currency"] == "DKK"
    (flow,) = danish["flows"]
    assert (flow["buyer_id"], flow["end_user_id"], flow["seller_country"]) == (
        "dk-mod", "ua-mod", "UA")
    assert (flow["license_required"], flow["rulesets"]) == (False, ["eu-baseline"])
    assert agreements["no-ua-2025"]["currency"] == "NOK"


def test_every_reference_resolves(pack: Pack) -> None:
    parties = {p["party_id"] for p in pack["parties"]}
    products = {p["product_id"]: p for p in pack["products"]}
    all_flows = flows(pack)
    assert len(all_flows) == sum(len(a["flows"]) for a in pack["agreements"])
    for agreement, flow in all_flows.values():
        assert {flow["buyer_id"], flow.get("end_user_id", flow["buyer_id"])} <= parties
        if "fund" in agreement:
            assert agreement["fund"]["party_id"] in parties
    assert all(p["supplier_id"] in parties for p in products.values())
    assert all(line["product_id"] in products for line in pack["bom"])
    for order in pack["orders"]:
        agreement, flow = all_flows[order["flow_id"]]
        product = products[order["product_id"]]
        assert order["agreement_id"] == agreement["agreement_id"]
        assert order["buyer_id"] == flow["buyer_id"]
        assert order["supplier_id"] == product["supplier_id"]
        assert (order["unit_price"], order["currency"]) == (product["unit_price"],
                                                            product["currency"])
    for lic in pack["licenses"]:
        assert {lic["exporter_id"], lic["end_user_id"]} <= parties
        assert products[lic["product_id"]]["supplier_id"] == lic["exporter_id"]
    assert all(line["flow_id"] in all_flows for line in pack["demand"])


def test_orders_fit_their_flows_dates_and_ceilings(pack: Pack) -> None:
    products = {p["product_id"]: p for p in pack["products"]}
    sellers = {p["party_id"]: p["country"] for p in pack["parties"]}
    all_flows = flows(pack)
    rates = {(r["date"], r["base"], r["quote"]): Decimal(r["rate"]) for r in pack["fx_rates"]}
    ordered: dict[str, Decimal] = defaultdict(Decimal)
    for order in pack["orders"]:
        agreement, flow = all_flows[order["flow_id"]]
        product = products[order["product_id"]]
        assert admits(flow["categories"], product["category"]), order
        assert sellers[order["supplier_id"]] == flow["seller_country"]
        assert "2025-09-01" <= order["due_on"] <= "2026-12-31"
        assert int(order["quantity"]) >= 1
        value = int(order["quantity"]) * Decimal(order["unit_price"])
        if order["currency"] != agreement["currency"]:
            key = ("2025-08-01", order["currency"], agreement["currency"])
            inverse = ("2025-08-01", agreement["currency"], order["currency"])
            value = value * rates[key] if key in rates else value / rates[inverse]
        ordered[agreement["agreement_id"]] += value
    assert {o["flow_id"] for o in pack["orders"]} == {
        "drones-to-us", "dk-drones-to-ua", "no-drones-to-ua"}, "weapons come as cases"
    for agreement in pack["agreements"]:
        assert ordered[agreement["agreement_id"]] < Decimal(agreement["ceiling"]) / 10


def test_flagged_products_exist_and_none_is_ordered_for_the_us(pack: Pack) -> None:
    lines = bom_by_product(pack)
    flagged = {product_id for product_id, bom in lines.items() if us_flagged(bom)}
    share = len(flagged) / len(pack["products"])
    assert 0.05 <= share <= 0.12
    components = {line["component_category"] for p in flagged for line in lines[p]
                  if {line["manufacturer_country"], line["origin_country"]} & COVERED}
    assert {"camera", "radio", "flight_controller", "data_storage"} <= components
    us_orders = [o for o in pack["orders"] if o["flow_id"] == "drones-to-us"]
    for order in us_orders:
        countries = {c for line in lines[order["product_id"]]
                     for c in (line["manufacturer_country"], line["origin_country"])}
        assert not countries & COVERED, order["product_id"]
    sanctioned = {"RU", "IR", "KP", "BY"}
    for order in pack["orders"]:
        countries = {c for line in lines[order["product_id"]]
                     for c in (line["manufacturer_country"], line["origin_country"])}
        assert not countries & sanctioned, order["product_id"]


def test_edge_cases_have_cn_parts_outside_the_848_list(pack: Pack) -> None:
    edge = [product_id for product_id, bom in bom_by_product(pack).items()
            if not us_flagged(bom)
            and any("CN" in (line["manufacturer_country"], line["origin_country"])
                    for line in bom)]
    assert len(edge) >= 3
    for product_id in edge:
        cn = {line["component_category"] for line in bom_by_product(pack)[product_id]
              if "CN" in (line["manufacturer_country"], line["origin_country"])}
        assert cn <= {"gnss", "motor", "battery"}


def test_licenses_cover_every_us_order(pack: Pack) -> None:
    products = {p["product_id"]: p for p in pack["products"]}
    licenses = {(lic["product_id"], lic["exporter_id"]): lic for lic in pack["licenses"]}
    assert len(licenses) == len(pack["licenses"])
    groups: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for order in pack["orders"]:
        if order["flow_id"] == "drones-to-us":
            groups[order["product_id"], order["supplier_id"]].append(order)
    assert set(groups) == set(licenses)
    tight = 0
    for key, orders in groups.items():
        lic = licenses[key]
        quantity = sum(int(o["quantity"]) for o in orders)
        assert (lic["authority_country"], lic["end_user_id"]) == ("UA", "us-dod")
        assert lic["currency"] == products[key[0]]["currency"]
        assert int(lic["max_quantity"]) >= quantity
        assert Decimal(lic["max_value"]) >= quantity * Decimal(products[key[0]]["unit_price"])
        assert lic["valid_from"] <= min(o["due_on"] for o in orders)
        assert lic["valid_to"] >= max(o["due_on"] for o in orders)
        tight += int(lic["max_quantity"]) == quantity and lic["valid_to"] == max(
            o["due_on"] for o in orders)
    assert tight >= 3, "a few licenses are deliberately tight"


def test_fx_rates_are_plain_decimals_monthly_and_realistic(pack: Pack) -> None:
    rows = pack["fx_rates"]
    assert all(RATE.fullmatch(r["rate"]) for r in rows), "plain decimals, ≤ 6 places"
    dates = sorted({r["date"] for r in rows})
    assert (dates[0], dates[-1], len(dates)) == ("2025-01-01", "2026-12-01", 24)
    assert all(d.endswith("-01") for d in dates)
    pairs = {(r["base"], r["quote"]) for r in rows}
    currencies = {p["currency"] for p in pack["products"]} | {
        a["currency"] for a in pack["agreements"]}
    for a in currencies:
        for b in currencies - {a}:
            assert (a, b) in pairs or (b, a) in pairs, (a, b)
    assert len(rows) == 24 * len(pairs)
    bands = {("USD", "UAH"): ("41", "42.5"), ("USD", "EUR"): ("0.86", "0.93"),
             ("USD", "DKK"): ("6.4", "7.0"), ("USD", "NOK"): ("10", "11.2")}
    for row in rows:
        if (row["base"], row["quote"]) in bands:
            low, high = bands[row["base"], row["quote"]]
            assert Decimal(low) <= Decimal(row["rate"]) <= Decimal(high), row


def test_demand_lines_are_for_the_us_drone_flow(pack: Pack) -> None:
    demand = pack["demand"]
    assert 5 <= len(demand) <= 10
    assert len({d["demand_id"] for d in demand}) == len(demand)
    for line in demand:
        assert line["flow_id"] == "drones-to-us"
        assert admits(["uas.*", "cuas", "training", "tech_transfer"], line["category"])
        assert int(line["quantity"]) >= 1
        assert dt.date.fromisoformat(line["due_on"]) > dt.date(2025, 9, 1)


def test_unknown_scale_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="scale"):
        write_demo_pack(tmp_path, scale="huge")
    assert not any(tmp_path.iterdir())


def test_large_scale_reaches_a_million_units(tmp_path: Path) -> None:
    summary = write_demo_pack(tmp_path / "large", scale="large", seed=11)
    assert summary.ua_manufacturers >= 300
    assert summary.products >= 1_000
    assert summary.units_ordered >= 1_000_000
    assert summary.shipments >= 1_000_000
    large = read_pack(tmp_path / "large")
    assert sum(int(o["quantity"]) for o in large["orders"]) == summary.units_ordered
    assert {p["category"] for p in large["products"]} == CATEGORIES


def test_orders_are_topped_up_to_the_scale_floor() -> None:
    scale = dataclasses.replace(SCALES["small"], min_units=150_000)
    catalog = build_catalog(random.Random(3), scale)
    deals = build_deals(random.Random(4), scale, catalog, demo_rates(random.Random(5)))
    assert sum(o.quantity for o in deals.orders) >= 150_000
    capacity = {p.product_id: p.monthly_capacity for p in catalog.products}
    per_month: dict[tuple[str, dt.date], int] = defaultdict(int)
    for order in deals.orders:
        per_month[order.product_id, order.due_on] += order.quantity
    assert all(units <= 2 * capacity[product_id]
               for (product_id, _due), units in per_month.items()), "two months of capacity"


# -- events: what ships, what is inspected, the reciprocal cases and the payments --------

AS_OF = "2026-09-30"
SERIAL = re.compile(r"[A-Z]{2}[0-9]-20(25|26)-[0-9]{6}")


def test_shipments_fit_orders_licenses_and_lots(pack: Pack) -> None:
    orders = {o["order_id"]: o for o in pack["orders"]}
    licenses = {lic["license_id"]: lic for lic in pack["licenses"]}
    products = {p["product_id"]: p for p in pack["products"]}
    shipped: dict[str, int] = defaultdict(int)
    lots: dict[str, int] = defaultdict(int)
    serials: set[tuple[str, str]] = set()
    for row in pack["shipments"]:
        order = orders[row["order_id"]]
        assert SERIAL.fullmatch(row["serial"]), row["serial"]
        maker = products[row["product_id"]]["supplier_id"]
        assert (maker, row["serial"]) not in serials, "a serial ships once per manufacturer"
        serials.add((maker, row["serial"]))
        assert row["product_id"] == order["product_id"]
        assert row["shipped_on"] <= min(order["due_on"], AS_OF)
        shipped[order["order_id"]] += 1
        lots[row["lot_id"]] += 1
        if order["flow_id"] == "drones-to-us":
            lic = licenses[row["license_id"]]
            assert lic["product_id"] == row["product_id"]
            assert lic["valid_from"] <= row["shipped_on"] <= lic["valid_to"]
        else:
            assert row["license_id"] == ""
    assert all(units <= int(orders[o]["quantity"]) for o, units in shipped.items())
    assert max(lots.values()) <= 500
    assert sum(1 for units in lots.values() if units >= 50) > len(lots) // 2
    assert sum(shipped.values()) < sum(int(o["quantity"]) for o in pack["orders"]), "live"


def test_inspections_follow_shipments_with_a_few_rejections(pack: Pack) -> None:
    shipped_on = {(row["product_id"], row["serial"]): row["shipped_on"]
                  for row in pack["shipments"]}
    rejected = 0
    for row in pack["inspections"]:
        assert shipped_on[row["product_id"], row["serial"]] <= row["inspected_on"] <= AS_OF
        if row["result"] == "rejected":
            rejected += 1
            assert row["reason"]
        else:
            assert row["result"] == "accepted"
            assert row["reason"] == ""
    assert 0.02 <= rejected / len(pack["inspections"]) <= 0.04
    assert len(pack["inspections"]) < len(pack["shipments"]), "the latest lots wait"


def test_reciprocal_cases_deliveries_and_payments(pack: Pack) -> None:
    lines = {(c["case_id"], c["line"]): c for c in pack["cases"]}
    assert {c["flow_id"] for c in pack["cases"]} == {"weapons-to-ua"}
    assert {"air_defense", "vehicle", "training"} <= {c["category"] for c in pack["cases"]}
    delivered: dict[tuple[str, str], int] = defaultdict(int)
    for d in pack["case_deliveries"]:
        delivered[d["case_id"], d["line"]] += int(d["quantity"])
        assert d["delivered_on"] <= AS_OF
    assert all(units <= int(lines[key]["quantity"]) for key, units in delivered.items())
    payers = {(p["payer_id"], p["payee_id"].split("-")[0]) for p in pack["payments"]}
    assert ("us-dod", "ua") in payers
    assert ("ua-mod", "us") in payers
    assert ("us-dod", "urif") in payers
    assert all(p["paid_on"] <= AS_OF for p in pack["payments"])


def test_the_small_demo_imports_with_zero_errors(
    small: tuple[Path, DemoSummary, Pack], engine: Engine, tmp_path: Path
) -> None:
    from sqlalchemy.orm import Session

    from dronedeal.services import keys
    from dronedeal.services.importer import import_pack
    from dronedeal.services.ledger import balances

    folder, summary, _pack = small
    key = tmp_path / "signing.key"
    keys.create_key(key, "dronedeal.test/log")
    with Session(engine) as session, session.begin():
        result = import_pack(session, folder, keys.load_signer(key))
    assert result.created["shipment"] == summary.shipments
    assert result.created["inspection"] == summary.inspections
    assert result.created["payment"] == summary.payments
    assert result.created["transfer"] > 0
    with Session(engine) as session:
        us = balances(session, "ua-us-2025")
    assert us["us-dod"] < 0, "the US owes for what it accepted and has not paid"
    assert us["urif"] > 0
