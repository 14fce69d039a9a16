"""The pure parts of the position report: conversion per batch, reciprocity, country
netting, the JSON shapes, and the settlement's bounds (Hypothesis)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dronedeal.core.fx import MissingRateError, RateTable
from dronedeal.core.netting import apply
from dronedeal.core.position import (
    AgreementTerms,
    Batch,
    Figure,
    FlowFigures,
    PartyBalance,
    build_position,
    build_settlement,
    country_nets,
    reciprocity_status,
    totals_by_flow,
)
from dronedeal.core.records import FxRate

D = dt.date
RATES = RateTable([
    FxRate(D(2025, 9, 1), "USD", "UAH", Decimal("41.5")),
    FxRate(D(2025, 10, 1), "USD", "UAH", Decimal("40")),
    FxRate(D(2025, 9, 1), "UAH", "EUR", Decimal("0.0241")),
])


def test_each_batch_is_converted_once_at_its_own_date_and_rounded_before_summing() -> None:
    batches = [
        # 99,999.99 UAH at 0.0241 → 2,409.999759 → 2,410.00 (not 3 × 803.33)
        Batch("drones", D(2025, 9, 2), "UAH", 3, 9_999_999),
        Batch("drones", D(2025, 9, 2), "UAH", 1, 1),            # 0.0000241 → 0.00
        Batch("drones", D(2025, 9, 3), "UAH", 1, 1),
    ]
    assert totals_by_flow(batches, RATES, "EUR") == {"drones": Figure(5, 241_000)}


def test_a_rate_change_splits_the_same_value_into_two_amounts() -> None:
    before = Batch("drones", D(2025, 9, 30), "UAH", 1, 4_150_000)   # 41,500.00 UAH
    after = Batch("drones", D(2025, 10, 1), "UAH", 1, 4_150_000)
    figures = totals_by_flow([before, after], RATES, "USD")        # divided by the inverse
    assert figures["drones"] == Figure(2, 100_000 + 103_750)


def test_a_missing_rate_names_the_pair_and_the_day() -> None:
    with pytest.raises(MissingRateError, match="no EUR→USD rate on or before 2025-09-02"):
        totals_by_flow([Batch("f", D(2025, 9, 2), "EUR", 1, 100)], RATES, "USD")


@pytest.mark.parametrize(("numerator", "denominator", "ratio", "met"), [
    (40_000, 82_140, "0.4870", False),
    (8, 10, "0.8000", True),
    (79_999, 100_000, "0.8000", False),     # shown rounded, judged exactly
    (123_456_785, 1_000_000_000, "0.1235", False),   # ...785 → half-even → 0.1235
    (1_234_5, 100_000, "0.1234", False),    # 0.12345 → half-even → 0.1234
    (0, 5, "0.0000", False),
    (5, 1, "5.0000", True),
])
def test_reciprocity_ratio_is_four_places_half_even(
        numerator: int, denominator: int, ratio: str, met: bool) -> None:
    status = reciprocity_status(numerator, denominator, Decimal("0.8"))
    assert status.document() == {"ratio": ratio, "min_ratio": "0.8", "met": met}


def test_with_nothing_accepted_in_the_denominator_the_ratio_is_null_and_not_met() -> None:
    status = reciprocity_status(1_000, 0, Decimal("0.8"))
    assert status.document() == {"ratio": None, "min_ratio": "0.8", "met": False}


def test_countries_net_their_parties_and_leave_funds_out() -> None:
    parties = [PartyBalance("us-dod", "US", "state", -735), PartyBalance("ua-1", "UA",
               "manufacturer", 500), PartyBalance("ua-2", "UA", "manufacturer", 200),
               PartyBalance("urif", "US", "fund", 35), PartyBalance("ghost", None, None, 0)]
    assert [(n.country, n.net) for n in country_nets(parties)] == [("UA", 700), ("US", -735)]


TERMS = AgreementTerms("ua-us-2025", "USD", 3_000_000_000_000, ("drones-to-us", "weapons"),
                       "urif", ("weapons", "drones-to-us", Decimal("0.8")))


def test_the_position_document_has_exactly_the_shape_of_spec_5() -> None:
    figures = {"drones-to-us": FlowFigures(Figure(10, 100_000), Figure(8, 80_000),
                                           Figure(7, 70_000), Figure(1, 10_000), 50_000)}
    report = build_position(
        terms=TERMS, as_of=D(2026, 6, 30), figures=figures,
        balances={"us-dod": -73_500, "ua-1": 70_000, "urif": 3_500},
        profiles={"us-dod": ("US", "state"), "ua-1": ("UA", "manufacturer"),
                  "urif": ("US", "fund")})
    expected: dict[str, Any] = {
        "agreement_id": "ua-us-2025", "as_of": "2026-06-30", "currency": "USD",
        "ceiling": "30000000000.00", "ceiling_used": "1000.00",
        "flows": [{"flow_id": "drones-to-us",
                   "ordered": {"units": 10, "value": "1000.00"},
                   "shipped": {"units": 8, "value": "800.00"},
                   "accepted": {"units": 7, "value": "700.00"},
                   "rejected": {"units": 1, "value": "100.00"},
                   "paid": "500.00"},
                  {"flow_id": "weapons",
                   "ordered": {"units": 0, "value": "0.00"},
                   "shipped": {"units": 0, "value": "0.00"},
                   "accepted": {"units": 0, "value": "0.00"},
                   "rejected": {"units": 0, "value": "0.00"},
                   "paid": "0.00"}],
        "parties": [{"party_id": "ua-1", "country": "UA", "balance": "700.00"},
                    {"party_id": "us-dod", "country": "US", "balance": "-735.00"}],
        "countries": [{"country": "UA", "net": "700.00"}, {"country": "US", "net": "-735.00"}],
        "fund": {"party_id": "urif", "balance": "35.00"},
        "reciprocity": {"ratio": "0.0000", "min_ratio": "0.8", "met": False},
    }
    assert report.document() == expected


def test_amounts_carry_exactly_the_currency_s_minor_digits() -> None:
    terms = AgreementTerms("jp", "JPY", 1_000, ("f",), None, None)
    report = build_position(terms=terms, as_of=D(2026, 1, 1),
                            figures={"f": FlowFigures(ordered=Figure(1, 250))},
                            balances={"a": -7, "b": 7}, profiles={})
    document = report.document()
    assert document["ceiling"] == "1000"
    assert document["flows"][0]["ordered"] == {"units": 1, "value": "250"}
    assert document["parties"] == [{"party_id": "a", "country": None, "balance": "-7"},
                                   {"party_id": "b", "country": None, "balance": "7"}]
    assert document["fund"] is None
    assert document["reciprocity"] is None
    assert document["countries"] == []


def test_unbalanced_ledgers_are_not_reported() -> None:
    with pytest.raises(AssertionError, match="sum to 1"):
        build_position(terms=TERMS, as_of=D(2026, 1, 1), figures={},
                       balances={"a": 1}, profiles={})


@st.composite
def zero_sum_balances(draw: st.DrawFn) -> dict[str, int]:
    amounts = draw(st.lists(st.integers(-10**12, 10**12), max_size=12))
    names = [f"p{n:02d}" for n in range(len(amounts) + 1)]
    balances = dict(zip(names, [*amounts, -sum(amounts)], strict=True))
    return balances


@given(zero_sum_balances())
def test_a_settlement_zeroes_every_balance_in_at_most_n_minus_1_payments(
        balances: dict[str, int]) -> None:
    proposal = build_settlement(agreement_id="a", as_of=D(2026, 1, 1), currency="USD",
                                balances=balances)
    owing = sum(1 for b in balances.values() if b)
    assert len(proposal.payments) <= max(owing - 1, 0)
    assert not any(apply(balances, list(proposal.payments)).values())
    document = proposal.document()
    assert set(document) == {"agreement_id", "as_of", "currency", "payments"}
    for payment in document["payments"]:
        assert set(payment) == {"payer_id", "payee_id", "amount"}
        assert payment["amount"].split(".")[1].isdigit()
        assert len(payment["amount"].split(".")[1]) == 2


@given(zero_sum_balances(), st.sampled_from(["US", "UA", "DK"]))
def test_parties_and_fund_of_a_position_sum_to_zero(
        balances: dict[str, int], fund_country: str) -> None:
    profiles = {party: ("UA" if n % 2 else "US", "state") for n, party in enumerate(balances)}
    fund = "p00"
    profiles[fund] = (fund_country, "fund")
    terms = AgreementTerms("a", "USD", 0, (), fund, None)
    report = build_position(terms=terms, as_of=D(2026, 1, 1), figures={},
                            balances=balances, profiles=profiles)
    assert report.fund is not None
    assert sum(p.balance for p in report.parties) + report.fund.balance == 0
    assert sum(n.net for n in report.countries) + report.fund.balance == 0
