"""Compliance against the store: findings stored per BOM version, checks on dates, the
gate that later issues call, and the demo pack's realistic mix."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from tests.compliance_seed import (
    DK_FLOW,
    US_FLOW,
    ensure_compliance_tables,
    part,
    product,
    replace_bom,
    seed,
)

from dronedeal.core.records import Flow
from dronedeal.rules import UnknownRulesetError, builtin_library, load_library
from dronedeal.services import compliance
from dronedeal.store import compliance as store
from dronedeal.store.db import session_factory

ON = dt.date(2026, 3, 1)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    ensure_compliance_tables(engine)
    with session_factory(engine)() as s, s.begin():
        yield s


def _seed_two(session: Session) -> None:
    """prd-ok: a Ukrainian UAS with Ukrainian parts; prd-cn: a radio made in China."""
    seed(session, [product("prd-ok"), product("prd-cn", supplier_id="ua-mfr-002",
                                              name="Obriy")],
         [part("prd-ok", "FC-1", "flight_controller"),
          part("prd-ok", "CAM-1", "camera"),
          part("prd-cn", "RAD-9", "radio", manufacturer="Shenzhen Radio Co., Ltd.",
               manufacturer_country="CN", origin_country="CN"),
          part("prd-cn", "CAM-1", "camera")])


def test_check_finds_the_blocked_product_and_names_the_law(session: Session) -> None:
    _seed_two(session)
    result = compliance.check(session, on=ON)
    blocking = result.blocking
    assert {(f.product_id, f.rule_id, f.part_number) for f in blocking} == {
        ("prd-cn", "US-848-HW", "RAD-9")}
    [finding] = blocking
    assert finding.citation.startswith("FY2020 NDAA §848(a)(1)(B)")
    assert "RAD-9" in finding.message
    # the FCC screen warns on every foreign-produced critical component of both
    warned = {(f.product_id, f.part_number) for f in result.findings if f.rule_id == "US-FCC-COMP"}
    assert ("prd-ok", "FC-1") in warned
    assert ("prd-cn", "RAD-9") in warned
    body = result.as_json()
    assert set(body) == {"findings"}
    assert set(body["findings"][0]) == {"product_id", "part_number", "ruleset_id", "rule_id",
                                        "severity", "citation", "message", "evaluated_on"}
    assert {f["evaluated_on"] for f in body["findings"]} == {"2026-03-01"}
    product_rules = [f for f in body["findings"] if f["rule_id"] == "US-FCC-UAS"]
    assert product_rules
    assert all(f["part_number"] is None for f in product_rules)


def test_a_second_check_reuses_the_stored_evaluations(session: Session) -> None:
    _seed_two(session)
    first = compliance.check(session, on=ON)
    second = compliance.check(session, on=ON)
    assert first.refreshed.evaluated == 4  # 2 products x 2 rulesets
    assert second.refreshed.evaluated == 0
    assert second.refreshed.reused == 4
    assert second.findings == first.findings


def test_the_date_switches_rules_on_without_re_evaluating(session: Session) -> None:
    _seed_two(session)
    before = compliance.check(session, on=dt.date(2025, 12, 21))
    after = compliance.check(session, on=dt.date(2025, 12, 22))
    assert "US-FCC-COMP" not in {f.rule_id for f in before.findings}
    assert "US-FCC-COMP" in {f.rule_id for f in after.findings}
    assert after.refreshed.evaluated == 0
    # §848 was in force on both dates
    assert {f.rule_id for f in before.blocking} == {"US-848-HW"}


def test_a_bom_change_re_evaluates_and_history_keeps_both(session: Session) -> None:
    _seed_two(session)
    compliance.check(session, on=ON)
    replace_bom(session, "prd-cn", [
        part("prd-cn", "RAD-10", "radio", manufacturer="Nordic Radio AS",
             manufacturer_country="NO", origin_country="NO"),
        part("prd-cn", "CAM-1", "camera")])
    again = compliance.check(session, on=ON)
    assert again.refreshed.evaluated == 2  # prd-cn under both rulesets
    assert again.blocking == []
    history = [h for h in store.evaluation_history(session, "prd-cn")
               if h.ruleset_id == "us-uas-supply-chain"]
    assert [h.is_current for h in history] == [False, True]
    assert history[0].bom_digest != history[1].bom_digest
    assert {f.rule_id for f in history[0].findings if f.blocking} == {"US-848-HW"}
    assert not any(f.blocking for f in history[1].findings)
    # reverting to the first BOM makes the first evaluation current again, no new row
    replace_bom(session, "prd-cn", [
        part("prd-cn", "RAD-9", "radio", manufacturer="Shenzhen Radio Co., Ltd.",
             manufacturer_country="CN", origin_country="CN"),
        part("prd-cn", "CAM-1", "camera")])
    reverted = compliance.check(session, on=ON)
    assert reverted.refreshed.evaluated == 0
    assert {f.rule_id for f in reverted.blocking} == {"US-848-HW"}
    count = session.scalar(select(func.count()).select_from(store.ComplianceEvaluationRow))
    assert count == 6


def test_a_supplier_rename_is_an_input_change(session: Session) -> None:
    _seed_two(session)
    compliance.check(session, on=ON)
    from dronedeal.core.records import Party
    from dronedeal.store import master

    master.update_record(session, "party",
                         Party("ua-mfr-001", "DJI", "manufacturer", "UA"), 2)
    result = compliance.check(session, on=ON)
    assert result.refreshed.evaluated == 2
    assert ("prd-ok", "US-817-UAS") in {(f.product_id, f.rule_id) for f in result.blocking}


def test_flows_only_check_products_in_their_categories(session: Session) -> None:
    seed(session, [product("prd-train", category="training", supplier_id="cn-mfr-001"),
                   product("prd-usv", category="usv", supplier_id="cn-mfr-001")],
         [part("prd-usv", "RAD-1", "radio", manufacturer_country="CN", origin_country="CN")])
    result = compliance.check(session, on=ON)
    assert result.blocking == []  # training is no UAS; the USV is in no flow's categories
    evaluated = {(e.product_id, rs) for rs in ("us-uas-supply-chain", "eu-baseline")
                 for e in store.evaluations_of(session, rs)}
    assert evaluated == {("prd-train", "us-uas-supply-chain")}


def test_check_of_one_agreement_and_an_unknown_one(session: Session) -> None:
    _seed_two(session)
    assert compliance.check(session, on=ON, agreement_id="ua-us-2025").blocking
    with pytest.raises(compliance.UnknownAgreementError, match="no agreement 'nope'"):
        compliance.check(session, on=ON, agreement_id="nope")


# --- gating -------------------------------------------------------------------------------

def test_may_ship_gives_the_blocking_findings_with_rule_and_citation(
        session: Session) -> None:
    _seed_two(session)
    ok = compliance.may_ship(session, product_id="prd-ok", flow=US_FLOW, on=ON)
    assert ok.allowed
    assert ok.findings == ()
    blocked = compliance.may_ship(session, product_id="prd-cn", flow=US_FLOW, on=ON)
    assert not blocked.allowed
    [finding] = blocked.findings
    assert (finding.rule_id, finding.part_number) == ("US-848-HW", "RAD-9")
    assert "US-848-HW (FY2020 NDAA §848(a)(1)(B)" in blocked.explain()
    # the same product passes in the Danish-model flow: eu-baseline does not block on CN
    assert compliance.may_accept(session, product_id="prd-cn", flow=DK_FLOW, on=ON).allowed


def test_gate_is_computed_once_and_answers_any_date(session: Session) -> None:
    seed(session, [product("prd-dji", supplier_id="ua-mfr-001"), product("prd-ok")],
         [part("prd-dji", "CAM-9", "camera", manufacturer="Da-Jiang Innovations",
               manufacturer_country="US", origin_country="US")])
    gate = compliance.compliance_gate(session, flow=US_FLOW)
    assert gate.decide("prd-dji", dt.date(2024, 9, 30)).allowed
    late = gate.decide("prd-dji", dt.date(2024, 10, 1))
    assert not late.allowed
    assert {f.rule_id for f in late.findings} == {"US-817-COMP"}
    assert gate.blocked(dt.date(2024, 10, 1)) == {"prd-dji"}
    assert gate.blocked(dt.date(2024, 9, 30)) == set()
    missing = gate.decide("prd-none", ON)
    assert not missing.allowed
    assert "no product 'prd-none'" in missing.explain()


def test_gate_refuses_products_outside_the_flow(session: Session) -> None:
    seed(session, [product("prd-usv", category="usv")], [])
    decision = compliance.may_ship(session, product_id="prd-usv", flow=US_FLOW, on=ON)
    assert not decision.allowed
    assert "category usv is not traded in flow drones-to-us" in decision.reasons[0]


def test_a_flow_naming_an_unknown_ruleset_fails_closed(session: Session) -> None:
    seed(session, [product("prd-ok")], [])
    flow = Flow("f", "us-dod", "us-dod", "UA", True, ("uas.*",), ("no-such-ruleset",))
    with pytest.raises(UnknownRulesetError, match="no-such-ruleset"):
        compliance.may_ship(session, product_id="prd-ok", flow=flow, on=ON)


def test_extra_rulesets_from_a_folder(session: Session, tmp_path: Path) -> None:
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "no-gnss-cn.yaml").write_text("""\
ruleset_id: no-gnss-cn
title: No Chinese GNSS receivers
rules:
  - rule_id: GNSS-CN
    citation: "Buyer policy 2026/1"
    severity: block
    effective_from: 2026-01-01
    subject: component
    when: component.component_category == 'gnss'
    violation: component.origin_country == 'CN'
    message: "GNSS receiver {component.part_number} is made in China"
""", encoding="utf-8")
    flow = Flow("drones-to-no", "dk-mod", "dk-mod", "UA", True, ("uas.*",), ("no-gnss-cn",))
    seed(session, [product("prd-gnss")],
         [part("prd-gnss", "GNSS-1", "gnss", origin_country="CN")], flows=[flow])
    library = load_library(folder)
    assert "us-uas-supply-chain" in library
    result = compliance.check(session, on=ON, library=library)
    assert [(f.rule_id, f.part_number) for f in result.blocking] == [("GNSS-CN", "GNSS-1")]
    assert compliance.check(session, on=dt.date(2025, 12, 31), library=library).blocking == []


# --- the demo pack ------------------------------------------------------------------------

def test_demo_pack_gives_a_realistic_mix(session: Session, tmp_path: Path) -> None:
    generator = pytest.importorskip("dronedeal.demo.generator")
    importer = pytest.importorskip("dronedeal.services.importer")
    keys = pytest.importorskip("dronedeal.services.keys")
    pack = tmp_path / "demo"
    generator.write_demo_pack(pack, scale="small", seed=7)
    signer = keys.create_key(tmp_path / "signing.key", "demo")
    importer.import_pack(session, pack, signer)
    from dronedeal.store.master import load_agreements

    flows = {f.rulesets: f for a in load_agreements(session) for f in a.flows}
    us_flow = flows[("us-uas-supply-chain",)]
    eu_flow = flows[("eu-baseline",)]
    library = builtin_library()
    on = dt.date(2026, 3, 1)
    us_gate = compliance.compliance_gate(session, flow=us_flow, library=library)
    eu_gate = compliance.compliance_gate(session, flow=eu_flow, library=library)
    us_products = [p for p, c in us_gate.categories.items() if us_flow.admits(c)]
    blocked = us_gate.blocked(on)
    assert us_products
    assert 0 < len(blocked) < len(us_products) / 2, "most pass, some are blocked"
    for pid in blocked:
        decision = us_gate.decide(pid, on)
        assert any("NDAA" in f.citation or "Drone Act" in f.citation
                   for f in decision.findings)
    in_both = [pid for pid in blocked if eu_flow.admits(us_gate.categories[pid])]
    assert in_both, "some blocked products are also sold in the Danish-model flow"
    assert all(eu_gate.decide(pid, on).allowed for pid in in_both)
