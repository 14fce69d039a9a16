"""OCDS publication of the demo deal: schema-valid, compilable, redacted as the policy says,
and adding up to the position report."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft4Validator, FormatChecker  # type: ignore[import-untyped]
from ocdskit.combine import merge  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT4
from sqlalchemy import Engine, and_, select, text
from sqlalchemy.orm import Session
from tests.conftest import TEST_DB, shared_data

from dronedeal.core.fx import RateTable
from dronedeal.core.money import digits, to_decimal
from dronedeal.core.ocds import (
    Policy,
    PolicyError,
    Withholding,
    parse_policy,
    pseudonym,
    serial_ranges,
)
from dronedeal.demo.generator import write_demo_pack
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.services.position import UnknownAgreementError, position
from dronedeal.services.publication import (
    load_policy,
    package_json,
    publication_salt,
    release_package,
)
from dronedeal.store import master
from dronedeal.store.db import make_engine, session_factory
from dronedeal.store.events import (
    CaseDeliveryRow,
    CaseLineRow,
    InspectionRow,
    PaymentRow,
    ShipmentRow,
)
from dronedeal.store.master import OrderRow, PartyRow
from dronedeal.store.schema import create_schema

AGREEMENT = "ua-us-2025"
SALT = b"test-publication-salt"
PUBLISHED = dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC)
SCHEMA = shared_data("ocds-1.1.5")
RELEASE_SCHEMA = json.loads((SCHEMA / "release-schema.json").read_text(encoding="utf-8"))
PACKAGE_SCHEMA = json.loads((SCHEMA / "release-package-schema.json").read_text(encoding="utf-8"))

@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """The demo deal (with its events) imported into a fresh database of the kind under test."""
    folder = tmp_path_factory.mktemp("publication")
    pack = folder / "pack"
    summary = write_demo_pack(pack)
    assert summary.shipments, "the demo deal delivers units"
    assert summary.inspections
    assert summary.cases
    assert summary.case_deliveries
    assert summary.payments
    schema = f"t_{uuid.uuid4().hex[:12]}"
    if TEST_DB == "sqlite":
        url = f"sqlite:///{folder / 'test.db'}"
    else:
        admin = make_engine(TEST_DB)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        url = f"{TEST_DB}{'&' if '?' in TEST_DB else '?'}options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    try:
        create_schema(engine)
        signer = keys.create_key(folder / "keys" / "signing.key", "test.local/log")
        with session_factory(engine)() as session, session.begin():
            import_pack(session, pack, signer)
        yield engine
    finally:
        engine.dispose()
        if TEST_DB != "sqlite":
            admin = make_engine(TEST_DB)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def _package(engine: Engine, audience: str, **kwargs: Any) -> dict[str, Any]:
    """The package as a consumer reads it: through its JSON text, numbers exact."""
    with session_factory(engine)() as session, session.begin():
        package = release_package(session, AGREEMENT, audience,
                                  published=kwargs.pop("published", PUBLISHED),
                                  salt=kwargs.pop("salt", SALT), **kwargs)
    loaded: dict[str, Any] = json.loads(package_json(package), parse_float=Decimal)
    return loaded


@pytest.fixture(scope="module")
def packages(store: Engine) -> dict[str, dict[str, Any]]:
    return {audience: _package(store, audience) for audience in ("public", "auditor")}


def _timestamp(value: object) -> bool:
    """RFC 3339 date-time, as OCDS dates are (jsonschema checks it only with an extra)."""
    if not isinstance(value, str):
        return True
    return bool(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                             value)) and dt.datetime.fromisoformat(value) is not None


FORMATS = FormatChecker()
FORMATS.checks("date-time")(_timestamp)


def _validator() -> Draft4Validator:
    registry = Registry().with_resources(
        (schema["id"], DRAFT4.create_resource(schema))
        for schema in (RELEASE_SCHEMA, PACKAGE_SCHEMA))
    return Draft4Validator(PACKAGE_SCHEMA, registry=registry, format_checker=FORMATS)


def _read(session: Session, statement: Any) -> list[Any]:
    return list(session.execute(statement))


# --- the package is OCDS ---------------------------------------------------------------

@pytest.mark.parametrize("audience", ["public", "auditor"])
def test_package_validates_against_the_ocds_1_1_5_release_package_schema(
        packages: dict[str, dict[str, Any]], audience: str) -> None:
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in _validator().iter_errors(packages[audience])]
    assert errors == []


def test_the_validator_does_check_the_releases(packages: dict[str, dict[str, Any]]) -> None:
    broken = copy.deepcopy(packages["public"])
    broken["releases"][0]["tag"] = ["signed"]
    broken["releases"][1]["parties"][0]["roles"] = "buyer"
    broken["releases"][2]["date"] = "2025-08-01"
    assert len(list(_validator().iter_errors(broken))) == 3


@pytest.mark.parametrize("audience", ["public", "auditor"])
def test_ocdskit_compiles_the_package_into_one_record_per_process(
        packages: dict[str, dict[str, Any]], audience: str) -> None:
    package = packages[audience]
    ocids = {r["ocid"] for r in package["releases"]}
    [record_package] = merge([package], schema=RELEASE_SCHEMA, return_package=True,
                             published_date=package["publishedDate"])
    records = {r["ocid"]: r for r in record_package["records"]}
    assert set(records) == ocids
    framework = records[f"ocds-xxxxxx-agreement-{AGREEMENT}"]["compiledRelease"]
    assert framework["tender"]["techniques"]["hasFrameworkAgreement"] is True
    assert {c["id"] for c in framework["contracts"]} >= {"drones-to-us", "weapons-to-ua"}


def test_ocdskit_command_line_compiles_the_public_package(
        packages: dict[str, dict[str, Any]]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ocdskit", "compile", "--package",
         "--schema", str(SCHEMA / "release-schema.json")],
        input=package_json(packages["public"]), capture_output=True, text=True,
        timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)["records"]
    assert len(records) == len({r["ocid"] for r in packages["public"]["releases"]})


def test_releases_are_dated_tagged_and_stably_identified(store: Engine,
                                                         packages: dict[str, Any]) -> None:
    again = _package(store, "public", published=PUBLISHED + dt.timedelta(days=30))
    assert again["releases"] == packages["public"]["releases"]
    assert again["publishedDate"] == "2026-07-31T12:00:00Z"
    seen = set()
    for release in again["releases"]:
        assert (release["ocid"], release["id"]) not in seen
        seen.add((release["ocid"], release["id"]))
        assert release["id"].startswith(tuple(f"{t}-" for t in ("tender", "award", "contract",
                                                                "implementation")))
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT00:00:00Z", release["date"])


def test_the_ocid_prefix_is_configuration(store: Engine,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRONEDEAL_OCID_PREFIX", "ocds-abc123")
    package = _package(store, "auditor")
    assert {r["ocid"].split("-agreement-")[0].split("-order-")[0].split("-case-")[0]
            for r in package["releases"]} == {"ocds-abc123"}


# --- the mapping ------------------------------------------------------------------------

def _by_ocid(package: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for release in package["releases"]:
        found.setdefault(release["ocid"], []).append(release)
    return found


def test_agreement_is_the_framework_and_orders_and_cases_are_call_offs(
        store: Engine, packages: dict[str, Any]) -> None:
    package = packages["auditor"]
    processes = _by_ocid(package)
    framework_ocid = f"ocds-xxxxxx-agreement-{AGREEMENT}"
    tender = next(r for r in processes[framework_ocid] if r["tag"] == ["tender"])["tender"]
    assert tender["techniques"]["hasFrameworkAgreement"] is True
    assert tender["maximumValue"] == {"amount": Decimal("30000000000.00"), "currency": "USD"}
    assert tender["techniques"]["frameworkAgreement"]["value"] == tender["maximumValue"]
    assert package["extensions"]
    assert all(u.endswith("/extension.json") for u in package["extensions"])
    with session_factory(store)() as session:
        orders = [o for o in master.load_orders(session) if o.agreement_id == AGREEMENT]
    for order in orders:
        [contract_release, *rest] = processes[f"ocds-xxxxxx-order-{order.order_id}"]
        assert contract_release["tag"] == ["award", "contract"]
        assert contract_release["relatedProcesses"] == [{
            "id": "framework", "relationship": ["framework"], "scheme": "ocid",
            "identifier": framework_ocid, "title": "Ukraine–United States drone deal"}]
        [contract] = contract_release["contracts"]
        assert contract["awardID"] == contract_release["awards"][0]["id"] == order.order_id
        assert contract["items"][0]["quantity"] == order.quantity
        assert all(r["tag"] == ["implementation"] for r in rest)
    with session_factory(store)() as session:
        cases = set(session.scalars(select(CaseLineRow.case_id)
                                    .where(CaseLineRow.agreement_id == AGREEMENT)))
    assert cases
    for case_id in cases:
        [contract_release, *_] = processes[f"ocds-xxxxxx-case-{case_id}"]
        assert contract_release["relatedProcesses"][0]["identifier"] == framework_ocid


def test_lots_and_case_deliveries_are_milestones(store: Engine, packages: dict[str, Any]) -> None:
    processes = _by_ocid(packages["auditor"])
    with session_factory(store)() as session:
        inspected = _read(session, select(
            ShipmentRow.order_id, ShipmentRow.lot_id, InspectionRow.inspected_on,
            InspectionRow.result, ShipmentRow.serial)
            .join(ShipmentRow, and_(InspectionRow.manufacturer_id == ShipmentRow.manufacturer_id,
                                    InspectionRow.serial == ShipmentRow.serial))
            .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
            .where(OrderRow.agreement_id == AGREEMENT))
        deliveries = _read(session, select(CaseDeliveryRow.case_id, CaseDeliveryRow.delivery_id)
                           .join(CaseLineRow, and_(CaseDeliveryRow.case_id == CaseLineRow.case_id,
                                                   CaseDeliveryRow.line == CaseLineRow.line))
                           .where(CaseLineRow.agreement_id == AGREEMENT))
    groups: dict[tuple[str, str, dt.date], list[tuple[str, str]]] = {}
    for order_id, lot_id, on, result, serial in inspected:
        groups.setdefault((order_id, lot_id, on), []).append((result, serial))
    assert groups
    milestones = {(r["ocid"], m["id"]): m for r in packages["auditor"]["releases"]
                  for c in r.get("contracts", ())
                  for m in c.get("implementation", {}).get("milestones", ())}
    statuses = set()
    for (order_id, lot_id, on), units in groups.items():
        milestone = milestones[(f"ocds-xxxxxx-order-{order_id}",
                                f"inspected-{lot_id}-{on.isoformat()}")]
        accepted = sum(1 for result, _ in units if result == "accepted")
        assert milestone["type"] == "delivery"
        assert milestone["dateMet"] == f"{on.isoformat()}T00:00:00Z"
        assert f"{accepted} accepted, {len(units) - accepted} rejected" in milestone["description"]
        assert "; serials " + ", ".join(serial_ranges(serial for _, serial in units)) \
            in milestone["description"]
        rejected = sorted(serial for result, serial in units if result == "rejected")
        if rejected:
            assert all(serial in milestone["description"].split("; rejected ")[1]
                       for serial in rejected)
        statuses.add(milestone["status"])
    assert "met" in statuses
    by_case: dict[str, set[str]] = {}
    for case_id, delivery_id in deliveries:
        by_case.setdefault(case_id, set()).add(delivery_id)
    for case_id, ids in by_case.items():
        [implementation] = [r for r in processes[f"ocds-xxxxxx-case-{case_id}"]
                            if r["tag"] == ["implementation"]]
        assert {m["id"] for m in implementation["contracts"][0]["implementation"]
                ["milestones"]} == ids


def test_payments_are_transactions_of_the_flow_they_pay(store: Engine,
                                                       packages: dict[str, Any]) -> None:
    with session_factory(store)() as session:
        payments = list(session.scalars(select(PaymentRow)
                                        .where(PaymentRow.agreement_id == AGREEMENT)))
        parties = {p.party_id: p for p in master.load_parties(session)}
    framework = _by_ocid(packages["auditor"])[f"ocds-xxxxxx-agreement-{AGREEMENT}"]
    [paid] = [r for r in framework if r["tag"] == ["implementation"]]
    transactions = {t["id"]: (c["id"], t) for c in paid["contracts"]
                    for t in c["implementation"]["transactions"]}
    public = _by_ocid(packages["public"])[f"ocds-xxxxxx-agreement-{AGREEMENT}"]
    [withheld] = [r for r in public if r["tag"] == ["implementation"]]
    totals = {t["id"] for c in withheld["contracts"] for t in c["implementation"]["transactions"]
              if "value" in t}
    assert totals == {f"total-{c['id']}" for c in withheld["contracts"]}
    assert set(transactions) == {p.payment_id for p in payments}
    flows = {("us-dod", "UA"): "drones-to-us", ("ua-mod", "US"): "weapons-to-ua"}
    for payment in payments:
        payee = parties[payment.payee_id]
        expected = ("agreement" if payee.party_kind == "fund" else
                    flows.get((payment.payer_id, payee.country), "agreement"))
        contract_id, transaction = transactions[payment.payment_id]
        assert contract_id == expected, payment.payment_id
        assert transaction["payer"] == {"id": payment.payer_id,
                                        "name": parties[payment.payer_id].name}
        assert transaction["payee"]["id"] == payment.payee_id
        assert transaction["date"] == f"{payment.paid_on.isoformat()}T00:00:00Z"
    roles = {p["id"]: set(p["roles"]) for p in paid["parties"]}
    assert roles["urif"] >= {"funder", "payee"}
    assert roles["us-dod"] >= {"buyer", "payer"}


# --- redaction --------------------------------------------------------------------------

_TOKEN = re.compile(r"[0-9A-Za-z._:-]+")


def test_public_package_shows_no_serial_unit_price_or_manufacturer(
        store: Engine, packages: dict[str, Any]) -> None:
    public = packages["public"]
    body = package_json(public)
    tokens = set(_TOKEN.findall(body))
    with session_factory(store)() as session:
        parties = list(master.load_parties(session))
        products = list(master.load_products(session))
        orders = [o for o in master.load_orders(session) if o.agreement_id == AGREEMENT]
        shipments = _read(session, select(ShipmentRow.serial, ShipmentRow.lot_id))
        lines = _read(session, select(CaseLineRow.description, CaseLineRow.unit_price,
                                      CaseLineRow.currency, PartyRow.kind)
                      .join(PartyRow, CaseLineRow.seller_id == PartyRow.party_id)
                      .where(CaseLineRow.agreement_id == AGREEMENT))
    makers = [p for p in parties if p.party_kind == "manufacturer"]
    assert makers
    assert shipments
    ids = {s for p in makers for s in (p.party_id, p.identifier) if s}
    ids |= {p.product_id for p in products if p.supplier_id in {m.party_id for m in makers}}
    ids |= {serial for serial, _ in shipments} | {lot for _, lot in shipments}
    assert ids & tokens == set()
    names = {p.name for p in makers} | {p.name for p in products}
    names |= {description for description, _, _, kind in lines if kind == "manufacturer"}
    assert {name for name in names if name in body} == set()
    # no unit price anywhere: not in a unit, not as a call-off total that would give it away
    units = [i["unit"] for r in public["releases"] for part in ("awards", "contracts")
             for x in r.get(part, ()) for i in x.get("items", ())]
    assert units
    assert all("value" not in u for u in units)
    prices = {to_decimal(o.unit_price, o.currency) for o in orders}
    prices |= {to_decimal(price, currency) for _, price, currency, _ in lines}
    assert {Decimal(v["amount"]) for v in _values(public)} & prices == set()


def _values(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if set(node) == {"amount", "currency"}:
            yield node
        for child in node.values():
            yield from _values(child)
    elif isinstance(node, list):
        for child in node:
            yield from _values(child)


def _schema_path_exists(path: str) -> bool:
    node: dict[str, Any] = RELEASE_SCHEMA
    for name in path.split("/"):
        while "$ref" in node:
            node = RELEASE_SCHEMA["definitions"][node["$ref"].split("/")[-1]]
        if "items" in node:
            node = node["items"]
            while "$ref" in node:
                node = RELEASE_SCHEMA["definitions"][node["$ref"].split("/")[-1]]
        properties = node.get("properties", {})
        if name not in properties:
            return False
        node = properties[name]
    return True


def test_every_withheld_field_is_declared_in_its_release(packages: dict[str, Any]) -> None:
    for release in packages["public"]["releases"]:
        declared = {(w["field"], w["id"].rsplit("/", 1)[-1])
                    for w in release.get("withheldInformation", ())}
        fields = {f for f, _ in declared}
        for item in release.get("withheldInformation", ()):
            assert set(item) == {"id", "field", "name", "rationale", "availabilityDate"}
            assert item["rationale"], item
            assert _schema_path_exists(item["field"]), item
        for party in release.get("parties", ()):
            if party["id"].startswith("manufacturer-"):
                assert ("parties/name", party["id"]) in declared
                assert ("parties/identifier", party["id"]) in declared
        if any(x.get("items") for x in release.get("contracts", ())):
            assert {"awards/items/unit/value", "contracts/items/unit/value"} <= fields
        if any(c.get("implementation", {}).get("milestones")
               for c in release.get("contracts", ()) if "order" in release["ocid"]):
            assert "contracts/implementation/milestones/description" in fields
    prices = [w for r in packages["public"]["releases"]
              for w in r.get("withheldInformation", ()) if w["field"].endswith("unit/value")]
    assert {w["availabilityDate"] for w in prices} == {"2033-12-31T00:00:00Z"}


def test_auditor_package_withholds_nothing(store: Engine, packages: dict[str, Any]) -> None:
    auditor = packages["auditor"]
    body = package_json(auditor)
    assert "withheldInformation" not in body  # neither withheld nor its extension declared
    assert "manufacturer-" not in body
    with session_factory(store)() as session:
        orders = [o for o in master.load_orders(session) if o.agreement_id == AGREEMENT]
        parties = {p.party_id: p for p in master.load_parties(session)}
        serial, lot = _read(session, select(ShipmentRow.serial, ShipmentRow.lot_id)
                            .join(OrderRow, ShipmentRow.order_id == OrderRow.order_id)
                            .where(OrderRow.agreement_id == AGREEMENT).limit(1))[0]
    for order in orders:
        assert f'"name": {json.dumps(parties[order.supplier_id].name, ensure_ascii=False)}' \
            in body
        assert f'"id": "{order.supplier_id}"' in body
    assert lot in body
    assert serial in body
    units = [i["unit"] for r in auditor["releases"] for x in r.get("contracts", ())
             for i in x.get("items", ())]
    assert units
    assert all("value" in u for u in units)


def test_pseudonyms_are_stable_secret_and_salted(store: Engine, packages: dict[str, Any]) -> None:
    shown = pseudonym(SALT, "manufacturer", "ua-mfr-001")
    assert re.fullmatch(r"manufacturer-[0-9a-f]{12}", shown)
    assert shown in json.dumps(packages["public"], default=str)
    assert pseudonym(b"another salt", "manufacturer", "ua-mfr-001") != shown
    other = _package(store, "public", salt=b"another salt")
    assert shown not in json.dumps(other, default=str)


def test_policy_exceptions_name_a_manufacturer_that_agreed(store: Engine) -> None:
    with session_factory(store)() as session:
        orders = [o for o in master.load_orders(session) if o.agreement_id == AGREEMENT]
        parties = {p.party_id: p for p in master.load_parties(session)}
    named, hidden = orders[0].supplier_id, next(
        o.supplier_id for o in orders if o.supplier_id != orders[0].supplier_id)
    policy = load_policy()
    rules = dict(policy.rules("public"))
    rules["manufacturer_identity"] = Withholding(
        "manufacturer_identity", rules["manufacturer_identity"].rationale,
        exceptions=frozenset({named}))
    relaxed = Policy(policy.policy_id, {"public": rules, "auditor": {}})
    body = package_json(_package(store, "public", policy=relaxed))
    assert json.dumps(parties[named].name, ensure_ascii=False) in body
    assert parties[hidden].name not in body
    assert pseudonym(SALT, "manufacturer", hidden) in body


# --- totals -----------------------------------------------------------------------------

def test_package_totals_equal_the_position_report(store: Engine, packages: dict[str, Any]) -> None:
    """Per flow: the framework contract's value is the position's ordered value; the
    auditor's call-off values, converted at `signed_on` and summed, make the same figure;
    accepted units (inspected milestones and case deliveries) and paid (the flow
    contract's transactions converted at `paid_on`) equal the position's."""
    with session_factory(store)() as session:
        report = position(session=session, agreement_id=AGREEMENT,
                          as_of=dt.date(2100, 1, 1))
        rates = RateTable(master.load_fx_rates(session))
        flow_of = {o.order_id: o.flow_id for o in master.load_orders(session)}
        agreement = next(a for a in master.load_agreements(session)
                         if a.agreement_id == AGREEMENT)
    framework_ocid = f"ocds-xxxxxx-agreement-{AGREEMENT}"
    for audience in ("public", "auditor"):
        flow_values: dict[str, int] = {}
        call_offs: dict[str, int] = {}
        accepted: dict[str, int] = {}
        paid: dict[str, int] = {}
        for release in packages[audience]["releases"]:
            ocid = release["ocid"]
            for contract in release.get("contracts", ()):
                if ocid == framework_ocid:
                    if "value" in contract:
                        assert contract["value"]["currency"] == "USD"
                        flow_values[contract["id"]] = _converted(
                            rates, contract["value"], agreement.signed_on)
                    for t in contract.get("implementation", {}).get("transactions", ()):
                        # public: single amounts withheld, their converted sum published
                        if "value" in t:
                            paid[contract["id"]] = paid.get(contract["id"], 0) + _converted(
                                rates, t["value"], dt.date.fromisoformat(t["date"][:10]))
                        else:
                            assert audience == "auditor" or "value" not in t
                    continue
                flow = flow_of[contract["id"]] if "-order-" in ocid else "weapons-to-ua"
                if "value" in contract:
                    call_offs[flow] = call_offs.get(flow, 0) + _converted(
                        rates, contract["value"], agreement.signed_on)
                for m in contract.get("implementation", {}).get("milestones", ()):
                    found = (re.search(r"(\d+) accepted", m["description"])
                             or re.match(r"(\d+) unit\(s\) of line", m["description"]))
                    if found and not m["id"].startswith("shipped-"):
                        accepted[flow] = accepted.get(flow, 0) + int(found.group(1))
        for figures in report.flows:
            flow_id = figures.flow_id
            assert flow_values[flow_id] == figures.ordered.value, (audience, flow_id)
            if audience == "auditor":
                assert call_offs[flow_id] == figures.ordered.value, flow_id
            assert accepted.get(flow_id, 0) == figures.accepted.units, (audience, flow_id)
            assert paid.get(flow_id, 0) == figures.paid, (audience, flow_id)
        if audience == "public":
            assert call_offs == {}  # a call-off's total with its quantity gives its unit price
    assert report.flows[0].paid > 0
    assert report.flows[1].accepted.units > 0


def _converted(rates: RateTable, value: dict[str, Any], on: dt.date) -> int:
    amount = Decimal(value["amount"])
    assert amount.as_tuple().exponent == -digits(value["currency"]), "exact minor digits"
    minor = int(amount.scaleb(digits(value["currency"])))
    return rates.convert(minor, value["currency"], "USD", on)


# --- errors, policy and pieces ---------------------------------------------------------

def test_unknown_agreement_and_audience_are_refused(store: Engine) -> None:
    with session_factory(store)() as session:
        with pytest.raises(UnknownAgreementError, match="no agreement 'nope'"):
            release_package(session, "nope", "auditor")
        with pytest.raises(PolicyError, match="audience 'press'"):
            release_package(session, AGREEMENT, "press", salt=SALT)


def test_the_shipped_policy_withholds_the_three_categories_from_the_public() -> None:
    policy = load_policy()
    assert set(policy.rules("public")) == {"serial_numbers", "unit_prices",
                                           "manufacturer_identity"}
    assert policy.rules("auditor") == {}


@pytest.mark.parametrize(("document", "message"), [
    ({"policy_id": "p", "audiences": {"public": None}}, "exactly public and auditor"),
    ({"policy_id": "p", "audiences": {"public": {"withhold": {"names": {}}},
                                      "auditor": None}}, "unknown category"),
    ({"policy_id": "p", "audiences": {"public": {"withhold": {"unit_prices": {}}},
                                      "auditor": None}}, "rationale"),
    ({"policy_id": "p", "audiences": {"public": {"withhold": {"unit_prices": {
        "rationale": "r", "exceptions": ["x"]}}}, "auditor": None}}, "exceptions apply"),
    ({"policy_id": "p", "audiences": {"public": {"withhold": {"serial_numbers": {
        "rationale": "r", "availability_date": "soon"}}}, "auditor": None}}, "YYYY-MM-DD"),
])
def test_a_policy_that_cannot_be_applied_is_refused_with_a_reason(
        document: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        parse_policy(document, "policy.yaml")


def test_policy_file_errors_name_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "policy.yaml"
    broken.write_text("policy_id: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolicyError, match=r"policy\.yaml: not valid YAML"):
        load_policy(broken)


def test_the_salt_lives_beside_the_signing_key_and_is_made_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DRONEDEAL_PUBLICATION_SALT", raising=False)
    key = tmp_path / "keys" / "signing.key"
    first = publication_salt(key)
    assert publication_salt(key) == first
    assert len(first) == 64
    assert (tmp_path / "keys" / "publication.salt").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("DRONEDEAL_PUBLICATION_SALT", "from-the-environment")
    assert publication_salt(key) == b"from-the-environment"
    assert os.environ["DRONEDEAL_PUBLICATION_SALT"]


def test_serials_fold_into_runs() -> None:
    assert serial_ranges(["SN-0003", "SN-0001", "SN-0002", "SN-0005", "X", "SN-00006"]) \
        == ["SN-00006", "SN-0001…SN-0003", "SN-0005", "X"]
    assert serial_ranges([]) == []
