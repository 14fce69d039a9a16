"""Compliance rules without a database: name folding, dates, templates, every built-in
rule and prong on a passing and a failing product, and malformed rulesets refused."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from importlib import resources

import pytest

from dronedeal.core.compliance import (
    EntityNames,
    Finding,
    MessageTemplate,
    Rule,
    fold_entity_name,
)
from dronedeal.core.errors import RefusedError
from dronedeal.rules import RulesetProgram, builtin_library, parse_ruleset

# --- entity names ---------------------------------------------------------------------


@pytest.mark.parametrize(("left", "right"), [
    ("SZ DJI Technology Co., Ltd.", "sz-dji technology"),
    ("SZ DJI Technology Co.,Ltd", "SZ  DJI  TECHNOLOGY"),
    ("Liberty Arms, Inc.", "LIBERTY ARMS INC"),
    ("Nordic Radio AS", "Nordic Radio"),
    ("Robert Bosch GmbH", "robert bosch"),
    ("Vezha Aero LLC", "Vezha-Aero"),
    ("ТОВ «Вежа Аеро»", "Вежа Аеро"),
    ("ПрАТ «Мотор Січ»", "мотор січ"),
    ("Thales S.A.", "THALES"),
    ("O'Neil Optics Ltd", "ONeil Optics"),
])
def test_names_fold_case_punctuation_and_legal_forms(left: str, right: str) -> None:
    assert fold_entity_name(left) == fold_entity_name(right)


def test_folding_keeps_what_distinguishes_entities() -> None:
    assert fold_entity_name("Autel Robotics") != fold_entity_name("Autel Intelligent")
    assert fold_entity_name("DJI") != fold_entity_name("SZ DJI Technology")
    # a name that is only a legal form does not fold to nothing
    assert fold_entity_name("LLC") == "llc"


def test_aliases_resolve_to_the_canonical_entity() -> None:
    names = EntityNames.from_aliases({"SZ DJI Technology": ["DJI", "Da-Jiang Innovations"]})
    assert names.key("DJI Inc.") == names.key("SZ DJI Technology Co., Ltd.")
    assert names.key("da jiang innovations") == fold_entity_name("SZ DJI Technology")
    assert names.key("Optika Kyiv") == fold_entity_name("Optika Kyiv")


# --- dates and templates --------------------------------------------------------------

def _rule(effective_from: dt.date, effective_to: dt.date | None) -> Rule:
    return Rule("R", "cite", "block", "product", None, "true",
                MessageTemplate.parse("m", "product"), effective_from, effective_to)


def test_a_rule_applies_between_its_dates_inclusive() -> None:
    rule = _rule(dt.date(2024, 11, 12), dt.date(2028, 12, 21))
    assert not rule.in_force(dt.date(2024, 11, 11))
    assert rule.in_force(dt.date(2024, 11, 12))
    assert rule.in_force(dt.date(2028, 12, 21))
    assert not rule.in_force(dt.date(2028, 12, 22))
    assert _rule(dt.date(2019, 12, 20), None).in_force(dt.date(2099, 1, 1))


def test_message_templates_render_fields_and_literal_braces() -> None:
    template = MessageTemplate.parse(
        "{component.component_category} {component.part_number} of {product.name} {{ok}}",
        "component")
    assert template.render({"name": "Vezha-7"}, {"component_category": "radio",
                                                 "part_number": "RAD-9"}) == (
        "radio RAD-9 of Vezha-7 {ok}")
    with pytest.raises(ValueError, match=r"component\.part_numbr"):
        MessageTemplate.parse("{component.part_numbr}", "component")
    with pytest.raises(ValueError, match="not a field"):
        MessageTemplate.parse("{component.part_number}", "product")


def test_finding_json_has_the_spec_shape() -> None:
    finding = Finding("prd-1", "us-uas-supply-chain", "US-848-UAS", None, "block", "cite",
                      "msg", dt.date(2019, 12, 20))
    assert finding.as_json(dt.date(2026, 1, 1)) == {
        "product_id": "prd-1", "part_number": None, "ruleset_id": "us-uas-supply-chain",
        "rule_id": "US-848-UAS", "severity": "block", "citation": "cite", "message": "msg",
        "evaluated_on": "2026-01-01"}


# --- every built-in rule, passing and failing -----------------------------------------

@dataclass
class Case:
    rule_id: str
    fires: bool
    on: dt.date = dt.date(2026, 3, 1)
    supplier: str = "Vezha Aero LLC"
    supplier_country: str = "UA"
    category: str = "uas.small"
    product_id: str = "prd-1"
    parts: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    """(part_number, component_category, manufacturer, manufacturer_country, origin)"""
    ruleset: str = "us-uas-supply-chain"


UA_CAMERA = ("CAM-1", "camera", "Optika Kyiv", "UA", "UA")
ON_2026 = dt.date(2026, 3, 1)

CASES = {
    # FY2020 NDAA §848(a)(1)(A): the whole UAS, by its maker's domicile / final assembly
    "848 whole UAS made in CN": Case("US-848-UAS", True, supplier="Shenzhen Sky Co., Ltd.",
                                     supplier_country="CN"),
    "848 whole UAS made in UA": Case("US-848-UAS", False),
    "848 applies only to UAS": Case("US-848-UAS", False, category="training",
                                    supplier_country="CN"),
    # §848(a)(1)(B): hardware manufactured in or by
    "848 hardware made in CN": Case("US-848-HW", True, parts=[
        ("FC-1", "flight_controller", "Shenzhen Flight", "CN", "CN")]),
    "848 hardware, origin fine, maker domiciled in CN": Case("US-848-HW", True, parts=[
        ("RAD-1", "radio", "Sky Radio", "CN", "VN")]),
    "848 hardware, maker domiciled in RU": Case("US-848-HW", True, parts=[
        ("GIM-1", "gimbal", "Kalashnikov Gimbals", "RU", "UA")]),
    "848 hardware made in UA": Case("US-848-HW", False, parts=[UA_CAMERA]),
    "848 non-critical part from CN": Case("US-848-HW", False, parts=[
        ("MOT-1", "motor", "T-Motor", "CN", "CN")]),
    # §848(a)(1)(C): software developed in or by
    "848 software developed in CN": Case("US-848-SW", True, parts=[
        ("OS-1", "operating_software", "Kyiv Soft", "UA", "CN")]),
    "848 ground control by an IR developer": Case("US-848-SW", True, parts=[
        ("GCS-1", "ground_control_system", "Tehran GCS", "IR", "UA")]),
    "848 software developed in UA": Case("US-848-SW", False, parts=[
        ("OS-1", "operating_software", "Kyiv Soft", "UA", "UA")]),
    # §848(a)(1)(D): data located in or administered by
    "848 data storage hosted in CN": Case("US-848-DATA", True, parts=[
        ("DS-1", "data_storage", "Cloud UA", "UA", "CN")]),
    "848 connectivity administered from KP": Case("US-848-DATA", True, parts=[
        ("NET-1", "network_connectivity", "Pyongyang Net", "KP", "DE")]),
    "848 data storage hosted in DE": Case("US-848-DATA", False, parts=[
        ("DS-1", "data_storage", "Hetzner", "DE", "DE")]),
    # §848(a)(2): counter-UAS systems
    "848 counter-UAS from CN": Case("US-848-CUAS", True, category="cuas",
                                    supplier_country="CN", supplier="Shenzhen Sky"),
    "848 counter-UAS from UA": Case("US-848-CUAS", False, category="cuas"),
    # FY2023 NDAA §817: covered UAS companies, from 2024-10-01
    "817 UAS by DJI after 2024-10-01": Case("US-817-UAS", True, supplier="DJI",
                                            supplier_country="US", on=dt.date(2024, 10, 1)),
    "817 UAS by DJI before 2024-10-01": Case("US-817-UAS", False, supplier="DJI",
                                             supplier_country="US", on=dt.date(2024, 9, 30)),
    "817 part by DJI, legal suffix": Case("US-817-COMP", True, parts=[
        ("BAT-1", "battery", "SZ DJI Technology Co., Ltd.", "US", "US")]),
    "817 part by DJI, other case and punctuation": Case("US-817-COMP", True, parts=[
        ("BAT-1", "battery", "sz-dji TECHNOLOGY", "US", "US")]),
    "817 part by DJI, alias": Case("US-817-COMP", True, parts=[
        ("CAM-9", "camera", "Da-Jiang Innovations", "US", "US")]),
    "817 part by a plain maker": Case("US-817-COMP", False, parts=[UA_CAMERA]),
    # ASDA 2023 §1823 / FAR 52.240-1: maker or assembler a covered foreign entity
    "ASDA maker on the list, alias and suffix": Case(
        "US-ASDA-1823", True, supplier="Autel Robotics USA LLC", supplier_country="US"),
    "ASDA maker domiciled in CN": Case("US-ASDA-1823", True, supplier="Shenzhen Sky",
                                       supplier_country="CN"),
    "ASDA before FAR 52.240-1": Case("US-ASDA-1823", False, supplier="Autel Robotics",
                                     supplier_country="US", on=dt.date(2024, 11, 11)),
    "ASDA after its sunset": Case("US-ASDA-1823", False, supplier="Autel Robotics",
                                  supplier_country="US", on=dt.date(2028, 12, 22)),
    "ASDA maker not covered": Case("US-ASDA-1823", False),
    "ASDA operation ban from 2025-12-22": Case(
        "US-ASDA-1824-1825", True, supplier="Autel Robotics", supplier_country="US",
        on=dt.date(2025, 12, 22)),
    "ASDA operation ban not before": Case(
        "US-ASDA-1824-1825", False, supplier="Autel Robotics", supplier_country="US",
        on=dt.date(2025, 12, 21)),
    # FCC Covered List: foreign-produced UAS and critical components, warnings
    "FCC foreign UAS": Case("US-FCC-UAS", True),
    "FCC foreign UAS before DA 25-1086": Case("US-FCC-UAS", False, on=dt.date(2025, 12, 21)),
    "FCC US-made UAS": Case("US-FCC-UAS", False, supplier="Liberty Arms Inc.",
                            supplier_country="US"),
    "FCC foreign critical component": Case("US-FCC-COMP", True, parts=[UA_CAMERA]),
    "FCC US-made critical component": Case("US-FCC-COMP", False, parts=[
        ("CAM-2", "camera", "Teledyne FLIR", "US", "US")]),
    # eu-baseline: sanctioned origins, warnings
    "EU component from BY": Case("EU-SANCTIONED-ORIGIN", True, ruleset="eu-baseline", parts=[
        ("RAD-2", "radio", "Minsk Radio", "BY", "BY")]),
    "EU component by a RU maker made elsewhere": Case(
        "EU-SANCTIONED-ORIGIN", True, ruleset="eu-baseline",
        parts=[("RAD-2", "radio", "Moscow Radio", "RU", "KZ")]),
    "EU component from CN is no EU sanction": Case(
        "EU-SANCTIONED-ORIGIN", False, ruleset="eu-baseline",
        parts=[("FC-1", "flight_controller", "Shenzhen Flight", "CN", "CN")]),
    "EU supplier in IR": Case("EU-SANCTIONED-SUPPLIER", True, ruleset="eu-baseline",
                              supplier="Qods Aviation", supplier_country="IR"),
    "EU supplier in UA": Case("EU-SANCTIONED-SUPPLIER", False, ruleset="eu-baseline"),
}


def _evaluate(program: RulesetProgram, case: Case) -> list[Finding]:
    product = (case.product_id, "sup-1", case.supplier, case.supplier_country, "Vezha-7",
               case.category, None, 420000, "USD", 100)
    components = [(case.product_id, pn, cat, maker, maker_country, origin, 1)
                  for pn, cat, maker, maker_country, origin in case.parts]
    [(product_id, findings)] = list(program.evaluate([(product, components)]))
    assert product_id == case.product_id
    return [f for f in findings if f.in_force(case.on)]


@pytest.mark.parametrize("name", list(CASES))
def test_builtin_rule(name: str) -> None:
    case = CASES[name]
    program = builtin_library().get(case.ruleset)
    fired = [f for f in _evaluate(program, case) if f.rule_id == case.rule_id]
    assert bool(fired) == case.fires, [f.message for f in fired]
    rule = program.ruleset.rule(case.rule_id)
    for finding in fired:
        assert finding.citation == rule.citation
        assert finding.severity == rule.severity
        assert (finding.part_number is None) == (rule.subject == "product")
        if finding.part_number:
            assert finding.part_number in finding.message


def test_every_builtin_rule_has_a_passing_and_a_failing_case() -> None:
    for program in builtin_library().programs.values():
        for rule in program.rules:
            outcomes = {c.fires for c in CASES.values() if c.rule_id == rule.rule.rule_id}
            assert outcomes == {True, False}, rule.rule.rule_id


def test_builtin_rulesets_cite_their_law() -> None:
    us = builtin_library().get("us-uas-supply-chain").ruleset
    citations = " ".join(r.citation for r in us.rules)
    for source in ("§848", "10 U.S.C. 4871 note", "FAR 52.225-18", "§817",
                   "American Security Drone Act", "FAR 52.240-1", "§1709", "DA 25-1086",
                   "DA 26-22"):
        assert source in citations, source
    assert set(us.lists["covered_countries"]) == {"CN", "RU", "IR", "KP"}
    eu = builtin_library().get("eu-baseline").ruleset
    assert "no EU component-origin law" in eu.title
    assert {r.severity for r in eu.rules} == {"warn"}
    assert all(r.citation for r in eu.rules)


def test_the_same_bom_before_and_after_a_rule_takes_effect() -> None:
    program = builtin_library().get("us-uas-supply-chain")
    case = Case("US-817-COMP", True, parts=[("FC-7", "battery", "DJI", "US", "US")])
    before = _evaluate(program, Case(**{**case.__dict__, "on": dt.date(2024, 9, 30)}))
    after = _evaluate(program, Case(**{**case.__dict__, "on": dt.date(2024, 10, 1)}))
    assert "US-817-COMP" not in {f.rule_id for f in before}
    assert "US-817-COMP" in {f.rule_id for f in after}


def _builtin_text(name: str) -> str:
    return resources.files("dronedeal").joinpath("rulesets", name).read_text(encoding="utf-8")


def test_blue_uas_items_are_exempt_from_the_fcc_screen() -> None:
    text = _builtin_text("us-uas-supply-chain.yaml").replace(
        "blue_uas: []", "blue_uas: [prd-blue, CAM-BLUE]")
    program = parse_ruleset(text, "custom.yaml")
    blue_product = Case("US-FCC-UAS", False, product_id="prd-blue",
                        parts=[UA_CAMERA])
    rule_ids = {f.rule_id for f in _evaluate(program, blue_product)}
    assert "US-FCC-UAS" not in rule_ids
    assert "US-FCC-COMP" not in rule_ids  # the whole product is listed
    blue_part = Case("US-FCC-COMP", False, parts=[("CAM-BLUE", "camera", "Optika", "UA", "UA"),
                                                  UA_CAMERA])
    parts = {f.part_number for f in _evaluate(program, blue_part) if f.rule_id == "US-FCC-COMP"}
    assert parts == {"CAM-1"}


def test_evaluation_reuses_results_for_identical_inputs() -> None:
    program = builtin_library().get("us-uas-supply-chain")
    products = []
    for i in range(200):
        pid = f"prd-{i}"
        products.append(((pid, "s", "Vezha", "UA", "n", "uas.small", None, 1, "USD", 1),
                         [(pid, f"P{i}-{j}", "camera", "Optika", "UA", "CN" if j == 0 else "UA",
                           1) for j in range(5)]))
    results = dict(program.evaluate(products))
    assert all({f.part_number for f in results[f"prd-{i}"] if f.rule_id == "US-848-HW"}
               == {f"P{i}-0"} for i in range(200))


# --- malformed rulesets ---------------------------------------------------------------

GOOD_RULE = """\
ruleset_id: custom
title: Custom rules
lists:
  covered_countries: [CN]
rules:
  - rule_id: R-1
    citation: "Test Act §1"
    severity: block
    effective_from: 2024-01-01
    subject: component
    when: product.category.startsWith('uas.')
    violation: component.origin_country in lists.covered_countries
    message: "{component.part_number} is from a covered country"
"""


def _refused(text: str) -> list[str]:
    with pytest.raises(RefusedError) as refused:
        parse_ruleset(text, "rulesets/custom.yaml")
    return [str(e) for e in refused.value.errors]


def test_a_good_ruleset_loads() -> None:
    program = parse_ruleset(GOOD_RULE, "rulesets/custom.yaml")
    assert program.ruleset.rule("R-1").effective_from == dt.date(2024, 1, 1)
    assert len(program.ruleset.digest) == 64


def test_unknown_field_is_refused_with_file_line_and_rule() -> None:
    errors = _refused(GOOD_RULE.replace("    severity: block", "    severity: block\n"
                                        "    severty: warn"))
    assert errors == ["rulesets/custom.yaml:9: R-1.severty: rule R-1: unknown field "
                      "'severty'; a rule has rule_id, title, citation, severity, "
                      "effective_from, effective_to, subject, when, violation, message"]
    assert "unknown field 'owner'" in _refused(GOOD_RULE + "owner: me\n")[0]


def test_cel_syntax_error_is_refused_with_its_position() -> None:
    when = "when: product.category.startsWith('uas.')"
    errors = _refused(GOOD_RULE.replace(when, when + " &&"))
    assert len(errors) == 1
    assert errors[0].startswith("rulesets/custom.yaml:11: R-1.when: rule R-1: CEL error at "
                                "1:39 of the when expression: CEL syntax error")


def test_unknown_variable_is_refused_with_its_position() -> None:
    errors = _refused(GOOD_RULE.replace("component.origin_country in",
                                        "compnent.origin_country in"))
    assert errors == ["rulesets/custom.yaml:12: R-1.violation: rule R-1: CEL error at 1:1 of "
                      "the violation expression: unknown variable 'compnent'; known: "
                      "component, lists, product"]


def test_unknown_field_of_a_variable_is_refused() -> None:
    errors = _refused(GOOD_RULE.replace("component.origin_country in lists.covered_countries",
                                        "component.origin in lists.covered_countrys"))
    assert "CEL error at 1:11 of the violation expression: unknown field component.origin" in (
        errors[0])


def test_component_is_unknown_to_product_rules() -> None:
    errors = _refused(GOOD_RULE.replace("subject: component", "subject: product").replace(
        "{component.part_number}", "{product.name}"))
    assert "unknown variable 'component'" in errors[0]
    assert "only known to component rules" in errors[0]


def test_unknown_function_and_non_boolean_are_refused() -> None:
    errors = _refused(GOOD_RULE.replace("product.category.startsWith('uas.')",
                                        "product.category.lowerAscii() == 'uas'"))
    assert "unknown function 'lowerAscii'" in errors[0]
    assert "1:18" in errors[0]
    errors = _refused(GOOD_RULE.replace("product.category.startsWith('uas.')",
                                        "product.category"))
    assert "gives str '', not true or false" in errors[0]


@pytest.mark.parametrize(("bad", "expected"), [
    ("effective_from: 2024-13-01", "R-1.effective_from: rule R-1: effective_from '2024-13-01' "
                                   "is not a date YYYY-MM-DD"),
    ("effective_from: yesterday", "effective_from 'yesterday' is not a date"),
])
def test_bad_dates_are_refused(bad: str, expected: str) -> None:
    errors = _refused(GOOD_RULE.replace("effective_from: 2024-01-01", bad))
    assert any(expected in e for e in errors), errors
    assert errors[0].startswith("rulesets/custom.yaml:9:")


def test_other_structural_errors_are_each_reported() -> None:
    text = GOOD_RULE.replace("severity: block", "severity: fatal").replace(
        "effective_from: 2024-01-01", "effective_from: 2024-01-01\n    effective_to: 2023-01-01")
    text += text[text.index("  - rule_id: R-1"):].replace("severity: fatal", "severity: warn")
    errors = _refused(text)
    assert any("severity 'fatal' is not one of block, warn" in e for e in errors)
    assert any("effective_to 2023-01-01 is before effective_from 2024-01-01" in e
               for e in errors)


def test_duplicate_rule_ids_and_yaml_keys_are_refused() -> None:
    rule = GOOD_RULE[GOOD_RULE.index("  - rule_id: R-1"):]
    errors = _refused(GOOD_RULE + rule)
    assert any("rule id R-1 is used twice" in e for e in errors)
    errors = _refused(GOOD_RULE.replace("title: Custom rules", "title: A\ntitle: B"))
    assert any("title is given twice" in e for e in errors)


def test_norway_stays_a_country_code() -> None:
    program = parse_ruleset(GOOD_RULE.replace("[CN]", "[CN, NO]"), "custom.yaml")
    assert program.ruleset.lists["covered_countries"] == ("CN", "NO")


def test_messages_render_percent_signs_lists_and_nulls() -> None:
    text = GOOD_RULE.replace(
        '"{component.part_number} is from a covered country"',
        '"100% sure: {component.part_number} ({component.listed}) nsn={product.nsn}"').replace(
        "  covered_countries: [CN]", "  covered_countries: [CN]\n  watch: [RAD-1]")
    program = parse_ruleset(text, "custom.yaml")
    product = ("prd-1", "s", "Vezha", "UA", "n", "uas.small", None, 1, "USD", 1)
    parts = [("prd-1", "RAD-1", "radio", "Maker", "UA", "CN", 1)]
    [(_, [finding])] = list(program.evaluate([(product, parts)]))
    assert finding.message == "100% sure: RAD-1 (watch) nsn="
