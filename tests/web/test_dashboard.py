"""The dashboard in a real browser, on the small demo: every page for every role, the
key figures against `services.position`, the scopes, the public redaction, the proof
viewer, the import page and the language switch."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.web.conftest import Demo, Person

from dronedeal.core.money import format_amount, parse_amount
from dronedeal.services import position
from dronedeal.store.db import make_engine
from dronedeal.store.events import ShipmentRow
from dronedeal.store.log import LogCheckpoint
from dronedeal.store.master import AgreementRow, PartyRow, ProductRow

PAGES = ("/", "/agreements/ua-us-2025", "/audit", "/compliance", "/licenses", "/suppliers",
         "/lots", "/import")
#: status per page for who is not allowed; every other (person, page) is 200
REFUSED = {
    "anonymous": {"/compliance": 401, "/licenses": 401, "/suppliers": 401, "/lots": 401,
                  "/import": 401},
    "auditor": {"/import": 403},
    "inspector": {"/licenses": 403},
}


@contextmanager
def _read(demo: Demo) -> Iterator[Session]:
    engine = make_engine(demo.db_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def _positions(demo: Demo) -> dict[str, dict[str, Any]]:
    with _read(demo) as session:
        ids = list(session.scalars(select(AgreementRow.agreement_id)))
        return {a: position.position(session=session, agreement_id=a,
                                     as_of=dt.date.today()).document() for a in ids}


def _vectors_path() -> Path:
    """The RFC 6962 vectors in the shared folder beside the repository (as tests/core)."""
    name = Path("data") / "rfc6962-vectors.json"
    candidates = [Path(__file__).resolve().parents[3] / "shared" / name]
    if os.environ.get("DRONEDEAL_SHARED"):
        candidates.append(Path(os.environ["DRONEDEAL_SHARED"]) / name)
    found = next((path for path in candidates if path.exists()), None)
    if found is None:
        raise FileNotFoundError(f"rfc6962-vectors.json not found in {candidates}")
    return found


FULL = ("ordered", "shipped", "accepted", "rejected")
#: the overview's cards show the headline figures only
HEADLINE = ("ordered", "accepted")


def _assert_flows(person: Person, scope: str, document: dict[str, Any],
                  figures: tuple[str, ...]) -> None:
    for flow in document["flows"]:
        row = f"{scope} tr[data-flow='{flow['flow_id']}']"
        for figure in figures:
            assert person.figures(row, figure) == [flow[figure]["value"]], (row, figure)
            assert person.figures(row, f"{figure}-units") == [str(flow[figure]["units"])]
        assert person.figures(row, "paid") == [flow["paid"]]


def _assert_headline(person: Person, scope: str, document: dict[str, Any],
                     figures: tuple[str, ...] = FULL) -> None:
    assert person.figures(scope, "ceiling") == [document["ceiling"]]
    assert person.figures(scope, "ceiling_used") == [document["ceiling_used"]]
    if document["fund"] is not None:
        assert person.figures(scope, "fund") == [document["fund"]["balance"]]
    if document["reciprocity"] is not None:
        assert person.figures(scope, "reciprocity") == [document["reciprocity"]["ratio"]]
    _assert_flows(person, scope, document, figures)


def test_every_page_opens_for_every_role(people: dict[str, Person]) -> None:
    for who, person in people.items():
        for path in PAGES:
            response = person.open(path)
            expected = REFUSED.get(who, {}).get(path, 200)
            assert response.status == expected, f"{who} {path}: {response.status}"
            if expected != 200:
                assert person.page.locator("#refused").count() == 1
            name = path.strip("/").replace("/", "-") or "overview"
            person.shot(name)


@pytest.mark.parametrize("who", ["admin", "anonymous"])
def test_overview_figures_equal_the_position(people: dict[str, Person], demo: Demo,
                                             who: str) -> None:
    person = people[who]
    person.open("/")
    documents = _positions(demo)
    shown = person.page.eval_on_selector_all("[data-agreement]",
                                             "els => els.map(e => e.dataset.agreement)")
    assert sorted(shown) == sorted(documents)
    for agreement_id, document in documents.items():
        _assert_headline(person, f"section[data-agreement='{agreement_id}']", document,
                         HEADLINE)


def test_agreement_page_shows_balances_settlement_and_months(people: dict[str, Person],
                                                             demo: Demo) -> None:
    person = people["auditor"]
    document = _positions(demo)["ua-us-2025"]
    person.open("/agreements/ua-us-2025")
    _assert_headline(person, "main", document)
    for party in document["parties"]:
        assert person.figures(f"#balances tr[data-party='{party['party_id']}']",
                              "balance") == [party["balance"]]
    today = dt.date.today().isoformat()
    for country in document["countries"]:
        assert person.figures(f"#countries tr[data-country='{country['country']}']",
                              "net") == [country["net"]]
        # the net position over time ends today at the same figure
        assert person.figures(f"#history tr[data-day='{today}']",
                              f"history-{country['country']}") == [country["net"]]
    with _read(demo) as session:
        settlement = position.settlement(session=session, agreement_id="ua-us-2025",
                                         as_of=dt.date.today()).document()
    assert person.figures("#settlement", "settle") == [p["amount"]
                                                        for p in settlement["payments"]]
    # the chart has a bar per (month, flow) and its table a row per month
    months = person.page.locator("#months tbody tr").count()
    assert months > 0
    assert person.page.locator("svg[aria-labelledby='months-title'] rect title").count() == \
        months * 2
    # per flow and month, the categories add up to the flow's accepted units
    sections = person.page.eval_on_selector_all(
        "section.flow-categories", "els => els.map(e => e.dataset.flow)")
    assert sections == [f["flow_id"] for f in document["flows"] if f["accepted"]["units"]]
    for flow in sections:
        per_month = person.page.eval_on_selector_all(
            f"#months tbody tr td[data-flow='{flow}'] [data-figure='month-units']",
            "els => els.map(e => [e.closest('tr').dataset.month, Number(e.dataset.value)])")
        by_category = person.page.eval_on_selector_all(
            f"section[data-flow='{flow}'] tbody tr",
            "rows => rows.map(r => [r.dataset.month, [...r.querySelectorAll("
            "'[data-figure=category-units]')].reduce((n, e) => n + Number(e.dataset.value), 0)])")
        assert dict(by_category) == {m: n for m, n in per_month if n}, flow
        total = sum(n for _, n in by_category)
        assert person.figures(f"section[data-flow='{flow}'] h3", "flow-category-total") == \
            [str(total)]
        assert person.page.locator(
            f"svg[aria-labelledby='categories-{flow}-title'] rect title").count() > 0
    person.shot("agreement-full")


def _party_history(person: Person) -> tuple[list[str], dict[str, dict[str, str]]]:
    """The balance history table: its party columns, and per day each column's value."""
    columns: list[str] = person.page.eval_on_selector_all(
        "#party-history thead th[data-party]", "els => els.map(e => e.dataset.party)")
    rows: dict[str, dict[str, str]] = {}
    for day in person.page.eval_on_selector_all("#party-history tbody tr",
                                                "els => els.map(e => e.dataset.day)"):
        rows[day] = {column: value for column in columns for value in person.figures(
            f"#party-history tr[data-day='{day}']", f"party-{column}")}
        assert set(rows[day]) == set(columns), day
    return columns, rows


def test_balances_over_time_end_at_the_position_and_match_it_at_a_month_end(
        people: dict[str, Person], demo: Demo) -> None:
    person = people["auditor"]
    person.open("/agreements/ua-us-2025")
    columns, rows = _party_history(person)
    today = dt.date.today()
    assert columns
    assert today.isoformat() in rows
    assert person.page.locator(
        "svg[aria-labelledby='party-history-title'] polyline").count() == len(columns)
    earlier = sorted(rows)[len(rows) // 2]
    for day in (today, dt.date.fromisoformat(earlier)):
        with _read(demo) as session:
            document = position.position(session=session, agreement_id="ua-us-2025",
                                         as_of=day).document()
        balances = {p["party_id"]: p["balance"] for p in document["parties"]}
        if document["fund"] is not None:
            balances[document["fund"]["party_id"]] = document["fund"]["balance"]
        shown = rows[day.isoformat()]
        for party_id in columns:
            if party_id != "others":
                assert shown[party_id] == balances.get(party_id, "0.00"), (day, party_id)
        rest = sum(parse_amount(b, "USD") for p, b in balances.items() if p not in columns)
        assert parse_amount(shown.get("others", "0.00"), "USD") == rest, day
    # the parties shown are those with the largest balances as of the page's date
    last = {p: abs(parse_amount(v, "USD")) for p, v in rows[today.isoformat()].items()
            if p != "others"}
    smallest_shown = min(last.values())
    with _read(demo) as session:
        document = position.position(session=session, agreement_id="ua-us-2025",
                                     as_of=today).document()
    left_out = [abs(parse_amount(p["balance"], "USD")) for p in document["parties"]
                if p["party_id"] not in last]
    assert all(b <= smallest_shown for b in left_out)
    person.shot("agreement-balances-over-time")


def test_the_public_sees_no_withheld_data(people: dict[str, Person], demo: Demo) -> None:
    with _read(demo) as session:
        makers = list(session.execute(select(PartyRow.party_id, PartyRow.name)
                                      .where(PartyRow.kind == "manufacturer")))
        serials = set(session.scalars(select(ShipmentRow.serial).limit(2000)))
        prices = {format_amount(p, c) for p, c in session.execute(
            select(ProductRow.unit_price, ProductRow.currency))}
    person = people["anonymous"]
    for path in ("/", "/agreements/ua-us-2025", "/agreements/dk-ua-2025", "/audit"):
        person.open(path)
        html = person.page.content()
        assert person.page.locator("#redacted").count() == 1
        for party_id, name in makers:
            assert party_id not in html, (path, party_id)
            assert name not in html, (path, name)
        assert not any(s in html for s in serials), path
        values = person.page.eval_on_selector_all("[data-value]",
                                                  "els => els.map(e => e.dataset.value)")
        assert not prices & set(values), path
        assert person.page.locator(
            "#balances, #party-history, #history, #payments, #settlement, #prove").count() == 0


def test_a_manufacturer_cannot_reach_anothers_pages(people: dict[str, Person],
                                                    demo: Demo) -> None:
    person = people["manufacturer_1"]
    assert person.open("/suppliers/ua-mfr-002").status == 404
    assert "ua-mfr-002" not in person.page.content()
    assert person.open("/suppliers/ua-mfr-001").status == 200
    person.open("/suppliers")
    listed = person.page.eval_on_selector_all("[data-supplier]",
                                              "els => els.map(e => e.dataset.supplier)")
    assert listed == ["ua-mfr-001"]
    person.open("/lots")
    makers = set(person.page.eval_on_selector_all(
        "#lots tr[data-manufacturer]", "els => els.map(e => e.dataset.manufacturer)"))
    assert makers == {"ua-mfr-001"}
    with _read(demo) as session:
        theirs = session.scalar(select(ShipmentRow.serial)
                                .where(ShipmentRow.manufacturer_id == "ua-mfr-002"))
        mine = session.scalar(select(ShipmentRow.serial)
                              .where(ShipmentRow.manufacturer_id == "ua-mfr-001"))
    assert theirs is not None
    assert mine is not None
    person.open(f"/lots?serial={theirs}")
    assert person.page.locator("#unit-missing").count() == 1
    assert person.page.locator("#unit").count() == 0
    person.open(f"/lots?serial={mine}")
    assert person.page.locator(f"#unit[data-serial='{mine}']").count() == 1
    person.shot("serial-lookup")
    person.open("/agreements/ua-us-2025")
    assert person.page.locator("#balances, #payments").count() == 0


def test_the_audit_page_verifies_an_inclusion_proof_in_the_browser(
        people: dict[str, Person]) -> None:
    person = people["auditor"]
    person.open("/audit")
    assert person.page.locator("#checkpoint").inner_text().count("\n") >= 3
    assert re.fullmatch(r"\S+\+[0-9a-f]{8}\+\S+", person.page.locator("#vkey").inner_text())
    person.page.fill("#leaf", "41")
    person.page.click("#prove button")
    person.page.wait_for_selector("#verdict[data-verified]")
    assert person.page.get_attribute("#verdict", "data-verified") == "true"
    person.shot("audit-verified")

    def tamper(route: Any) -> None:
        proof = route.fetch().json()
        proof["leaf"] = proof["leaf"].replace('"', "'", 1)
        route.fulfill(body=json.dumps(proof), content_type="application/json")

    person.page.route("**/audit/proof*", tamper)
    try:
        person.page.click("#prove button")
        person.page.wait_for_function(
            "document.getElementById('verdict').dataset.verified === 'false'")
    finally:
        person.page.unroute("**/audit/proof*")


def _consistency(person: Person, size: str | None = None) -> tuple[str, str]:
    """Ask the audit page to prove consistency from `size` (None: its default); the
    verdict (`true`/`false`) and its text."""
    if size is not None:
        person.page.fill("#from-size", size)
    person.page.click("#consistency button")
    person.page.wait_for_selector("#consistency-verdict[data-verified]")
    return (str(person.page.get_attribute("#consistency-verdict", "data-verified")),
            person.page.inner_text("#consistency-verdict"))


def test_the_public_verifies_the_checkpoint_and_consistency_in_the_browser(
        people: dict[str, Person], demo: Demo) -> None:
    person = people["anonymous"]
    person.open("/audit")
    person.page.wait_for_selector("#signature-verdict[data-verified]")
    assert person.page.get_attribute("#signature-verdict", "data-verified") == "true"
    with _read(demo) as session:
        sizes = list(session.scalars(select(LogCheckpoint.tree_size)
                                     .order_by(LogCheckpoint.tree_size)))
    assert len(sizes) >= 2
    latest = int(person.figures("main", "tree_size")[0])
    assert f"\n{latest}\n" in person.page.locator("#checkpoint").inner_text()
    # the default earlier size is the first checkpoint; its signature and root are checked
    assert person.page.input_value("#from-size") == str(sizes[0])
    verified, text = _consistency(person)
    assert verified == "true", text
    assert "signed checkpoint" in text
    assert f"\n{sizes[0]}\n" in person.page.locator("#earlier-checkpoint").inner_text()
    person.shot("audit-consistency")
    # a size at which nothing was signed: proved against the root the proof gives
    assert _consistency(person, str(sizes[0] - 1))[0] == "true"
    assert _consistency(person, str(sizes[-2]))[0] == "true"

    def flip(route: Any) -> None:
        proof = route.fetch().json()
        raw = bytearray(base64.b64decode(proof["proof"][0]))
        raw[0] ^= 1
        proof["proof"][0] = base64.b64encode(bytes(raw)).decode()
        route.fulfill(body=json.dumps(proof), content_type="application/json")

    def resign(route: Any) -> None:
        # a forged earlier checkpoint: another root under the real signature line
        lines = route.fetch().text().split("\n")
        lines[2] = base64.b64encode(bytes(32)).decode()
        route.fulfill(body="\n".join(lines), content_type="text/plain")

    for pattern, handler in (("**/api/v1/audit/proofs/consistency*", flip),
                             ("**/api/v1/audit/checkpoint?size=*", resign)):
        person.page.route(pattern, handler)
        try:
            verified, text = _consistency(person, str(sizes[0]))
            assert verified == "false", (pattern, text)
        finally:
            person.page.unroute(pattern)
    assert _consistency(person, str(sizes[0]))[0] == "true"

    def other_size(route: Any) -> None:
        # the page as a tampering server would send it: the checkpoint claims one leaf less
        html = route.fetch().text()
        route.fulfill(body=html.replace(f"\n{latest}\n", f"\n{latest - 1}\n", 1),
                      content_type="text/html")

    person.page.route("**/audit", other_size)
    try:
        person.open("/audit")
        person.page.wait_for_selector("#signature-verdict[data-verified]")
        assert person.page.get_attribute("#signature-verdict", "data-verified") == "false"
    finally:
        person.page.unroute("**/audit")


def test_the_page_scripts_agree_with_the_rfc_6962_vectors(people: dict[str, Person]) -> None:
    vectors = json.loads(_vectors_path().read_text())
    person = people["anonymous"]
    person.open("/audit")
    results = person.page.evaluate("""async (v) => {
      const log = DronedealLog;
      const bytes = (h) => Uint8Array.from(h.match(/../g) || [], (x) => parseInt(x, 16));
      const out = [];
      for (const c of v.consistency) {
        if (c.size1 === 0) continue;
        const args = [c.size1, c.size2, bytes(v.roots[c.size1]), bytes(v.roots[c.size2])];
        const proof = c.proof.map(bytes);
        out.push([c, "good", await log.verifyConsistency(...args, proof)]);
        if (proof.length) {
          const bad = proof.map((p) => p.slice());
          bad[bad.length - 1][5] ^= 0x80;
          out.push([c, "flipped", await log.verifyConsistency(...args, bad)]);
          out.push([c, "short", await log.verifyConsistency(...args, proof.slice(1))]);
        }
        if (c.size1 < c.size2) {
          out.push([c, "other size", await log.verifyConsistency(
            c.size1, c.size2 - 1, args[2], bytes(v.roots[c.size2 - 1]), proof)]);
        }
      }
      for (const c of v.inclusion) {
        const got = await log.rootFromPath(bytes(v.leaves_hex[c.index]), c.index, c.size,
                                           c.path.map(bytes));
        out.push([c, "inclusion", got !== null && log.equal(got.root, bytes(v.roots[c.size]))]);
      }
      return out;
    }""", vectors)
    assert len(results) > 10
    for case, kind, ok in results:
        assert ok == (kind in ("good", "inclusion")), (case, kind)


def test_the_compliance_filters_narrow_the_findings(people: dict[str, Person]) -> None:
    person = people["admin"]
    person.open("/compliance")
    total = int(person.figures("main", "findings")[0])
    person.open("/compliance?severity=block")
    blocking = int(person.figures("main", "findings")[0])
    assert 0 < blocking <= total
    severities = set(person.page.eval_on_selector_all(
        "#findings td[data-severity]", "els => els.map(e => e.dataset.severity)"))
    assert severities == {"block"}
    person.shot("compliance-block")


def test_the_import_page_shows_row_errors_and_lands_nothing(people: dict[str, Person]) -> None:
    person = people["manufacturer_1"]
    person.open("/import")
    bad = ("serial,product_id,lot_id,order_id,license_id,shipped_on\n"
           "X-1,prd-0001,LOT-X,ord-000001,,2025-13-01\n")
    person.page.set_input_files("#files", files=[
        {"name": "shipments.csv", "mimeType": "text/csv", "buffer": bad.encode()}])
    person.page.click("#upload button")
    person.page.wait_for_selector("#row-errors")
    rows = person.page.locator("#row-errors tbody tr")
    assert rows.count() >= 1
    assert rows.first.locator("td").first.inner_text() == "shipments.csv"
    assert person.page.locator("#summary").count() == 0
    person.shot("import-errors")


def test_the_language_switch_translates_and_formats(people: dict[str, Person],
                                                    demo: Demo) -> None:
    person = people["anonymous"]
    try:
        person.open("/?lang=uk")
        assert person.page.get_attribute("html", "lang") == "uk"
        assert person.page.locator("nav a").first.inner_text() == "Огляд"
        ceiling = person.page.locator(
            "section[data-agreement='ua-us-2025'] [data-figure='ceiling']").inner_text()
        assert ceiling == "30\u00a0000\u00a0000\u00a0000,00 USD"
        person.shot("overview-uk")
        person.open("/audit")  # the choice is remembered
        assert person.page.get_attribute("html", "lang") == "uk"
    finally:
        person.open("/?lang=en")
    assert person.page.get_attribute("html", "lang") == "en"


def test_pages_fit_a_phone_screen(browser: Any, demo: Demo) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True)
    try:
        phone = Person("phone", context.new_page(), demo.url)
        for path, name in (("/", "overview"), ("/agreements/ua-us-2025", "agreement"),
                           ("/audit", "audit")):
            phone.open(path)
            overflow = phone.page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
            phone.shot(name)
    finally:
        context.close()
