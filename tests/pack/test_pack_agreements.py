"""agreements.yaml: syntax and structure errors at their line, defaults, exact decimals.

Lines of the sample (pack_samples.AGREEMENTS_YAML): 1 `- agreement_id: ua-us-2025`,
4 ceiling, 5 signed_on, 8 first flow, 9 its buyer_id, 11 its seller_country,
12 its license_required, 24 the fund contribution, 29 `- agreement_id: dk-ua-2025`.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from tests.pack.pack_samples import AGREEMENTS_YAML, where, write_csv_pack

from dronedeal.core.errors import RowError
from dronedeal.pack import read_agreements, read_pack


def yaml_errors(folder: Path, text: str) -> list[RowError]:
    return read_pack(write_csv_pack(folder, agreements=text)).errors


def edited(old: str, new: str) -> str:
    assert AGREEMENTS_YAML.count(old) == 1, old
    return AGREEMENTS_YAML.replace(old, new)


def test_sample_reads_exactly(tmp_path: Path) -> None:
    path = tmp_path / "agreements.yaml"
    path.write_text(AGREEMENTS_YAML)

    agreements, errors, refused = read_agreements(path)

    assert errors == []
    assert refused == frozenset()
    deal, danish = (a.record for a in agreements)
    assert deal.ceiling == 3_000_000_000_000
    assert deal.fund is not None
    assert deal.fund.contributions[0].share == Decimal("0.05")
    assert deal.reciprocity is not None
    assert deal.reciprocity.min_ratio == Decimal("0.8")
    assert deal.flows[0].categories == ("uas.*", "cuas", "training", "tech_transfer")
    assert danish.ceiling == 50_000_000_000  # an unquoted 500000000.00, read from its digits
    assert (agreements[1].row, agreements[1].row_of("flows[0].buyer_id")) == (29, 37)


def test_defaults_end_user_is_the_buyer_and_license_waits_for_the_parties(
        tmp_path: Path) -> None:
    path = tmp_path / "agreements.yaml"
    path.write_text(edited("      end_user_id: us-dod      # who receives (default: the buyer)\n",
                           ""))

    agreements, errors, _ = read_agreements(path)

    assert errors == []
    flow = agreements[0].record.flows[0]
    assert flow.end_user_id == "us-dod"
    danish = agreements[1]
    assert danish.record.flows[0].rulesets == ()
    assert danish.record.flows[0].license_required is True  # provisional, the safe side
    assert danish.defaulted == frozenset({"flows[0].license_required"})


@pytest.mark.parametrize(
    ("old", "new", "line", "phrase"),
    [
        ('  ceiling: "30000000000"\n', '  ceiling: 30000000000: x\n', 4,
         "mapping values are not allowed here"),
        # an unclosed list runs on; YAML notices at the `party_id:` line inside `fund:`
        ("      rulesets: []\n", "      rulesets: [\n", 22, "not valid YAML"),
        ("    - flow_id: weapons-to-ua\n", "   - flow_id: weapons-to-ua\n", 15,
         "not valid YAML at column 4"),
    ],
    ids=["colon-in-value", "unclosed-list", "indentation"],
)
def test_yaml_syntax_error_at_the_line_of_the_problem(tmp_path: Path, old: str, new: str,
                                                      line: int, phrase: str) -> None:
    errors = yaml_errors(tmp_path, edited(old, new))

    assert where(errors) == [("agreements.yaml", line, "*")]
    assert phrase in errors[0].message


def test_unknown_key_with_a_suggestion_is_one_error(tmp_path: Path) -> None:
    errors = yaml_errors(tmp_path, edited("      seller_country: UA\n      license_required: true",
                                          "      seller_contry: UA\n      license_required: true"))

    assert where(errors) == [("agreements.yaml", 11, "flows[0].seller_contry")]
    assert 'unknown key "seller_contry"; did you mean "seller_country"?' in errors[0].message


def test_missing_key_is_reported_at_its_mapping(tmp_path: Path) -> None:
    errors = yaml_errors(tmp_path, edited("  ends_on: 2028-12-31\n", ""))

    assert where(errors) == [("agreements.yaml", 1, "ends_on")]
    assert 'missing key "ends_on"' in errors[0].message


@pytest.mark.parametrize(
    ("edit", "at", "phrase"),
    [
        (("      license_required: true\n", '      license_required: "yes"\n'),
         (12, "flows[0].license_required"), "must be true or false"),
        (('      categories: ["*"]\n', '      categories: "*"\n'),
         (19, "flows[1].categories"), "must be a list"),
        (("  fund:\n    party_id: urif\n", "  fund:\n    party_id: [urif]\n"),
         (22, "fund.party_id"), "must be a single value, not a list"),
        (('share: "0.05"', 'share: "5"'),
         (24, "fund.contributions[0].share"), "is more than 1; write a fraction"),
        (("  signed_on: 2025-08-01\n", "  signed_on: 2025-02-30\n"),
         (5, "signed_on"), "is not a date that exists"),
        (('  ceiling: "30000000000"\n', '  ceiling: "3e10"\n'),
         (4, "ceiling"), "has an exponent"),
        (('["uas.*", "cuas",', '["uas.*", "cuass",'),
         (13, "flows[0].categories[1]"), 'did you mean "cuas"?'),
        (("      seller_country: US\n", "      seller_country: USA\n"),
         (17, "flows[1].seller_country"), "ISO 3166-1"),
    ],
    ids=["bool", "list", "scalar", "share", "date", "amount", "category", "country"],
)
def test_wrong_types_at_their_key(tmp_path: Path, edit: tuple[str, str], at: tuple[int, str],
                                  phrase: str) -> None:
    errors = yaml_errors(tmp_path, edited(*edit))

    assert where(errors) == [("agreements.yaml", *at)]
    assert phrase in errors[0].message


def test_duplicate_agreement_id(tmp_path: Path) -> None:
    errors = yaml_errors(tmp_path, edited("- agreement_id: dk-ua-2025\n",
                                          "- agreement_id: ua-us-2025\n"))

    assert where(errors) == [("agreements.yaml", 29, "agreement_id")]
    assert 'duplicate agreement_id "ua-us-2025": line 1 has it already' in errors[0].message


def test_duplicate_key_in_one_mapping(tmp_path: Path) -> None:
    errors = yaml_errors(tmp_path, edited("  title: Danish model\n",
                                          "  title: Danish model\n  title: again\n"))

    assert where(errors) == [("agreements.yaml", 31, "title")]
    assert "appears twice" in errors[0].message


def test_top_level_must_be_a_list(tmp_path: Path) -> None:
    text = "agreement_id: x\ntitle: y\n"

    errors = yaml_errors(tmp_path, text)

    assert where(errors) == [("agreements.yaml", 1, "*")]
    assert 'must be a list of agreements, each starting with "- agreement_id:' in \
        errors[0].message


@pytest.mark.parametrize("text", ["", "# no agreements yet\n"])
def test_empty_yaml(tmp_path: Path, text: str) -> None:
    errors = yaml_errors(tmp_path, text)

    assert where(errors) == [("agreements.yaml", 1, "*")]
    assert "the file is empty" in errors[0].message


def test_yaml_not_utf8(tmp_path: Path) -> None:
    write_csv_pack(tmp_path)
    data = AGREEMENTS_YAML.encode().replace(b"Danish model", b"Mod\xe8le danois")
    (tmp_path / "agreements.yaml").write_bytes(data)

    errors = read_pack(tmp_path).errors

    assert where(errors) == [("agreements.yaml", 30, "*")]
    assert "not UTF-8" in errors[0].message


def test_a_refused_agreement_is_remembered_by_id(tmp_path: Path) -> None:
    pack = read_pack(write_csv_pack(tmp_path, agreements=edited("  ends_on: 2026-12-31\n",
                                                                "")))

    assert [a.record.agreement_id for a in pack.agreements] == ["ua-us-2025"]
    assert pack.refused["agreements"] == frozenset({"dk-ua-2025"})
