"""The position of an agreement as of a date, and its settlement proposal, as plain data.

The store aggregates events into `Batch`es: units and source-currency value of one flow
on one event date in one currency (a lot's units on one shipping or inspection date, one
case delivery, one payment, one order or case line). This module converts each batch
once, at its date's rate, rounding half-even, and sums the converted amounts: the same
rule the ledger posts by, so a flow's accepted value equals the acceptance transfers it
caused, to the minor unit (`BatchConverter` does that conversion in integers, with the
exact rate of each currency and date looked up once: the same quotient, the same
rounding, for the thousands of batches of a large deal). Everything else here is
arithmetic on figures already in the agreement currency.

Invariants kept here (asserted where they are built):

- every amount is an `int` of minor units of the agreement currency; none is a float;
- balances sum to zero: Σ party balances + the fund's balance == 0 (SPEC §3.2);
- the agreement's fund is reported apart from the parties; countries net the balances
  of the other parties, those of kind `fund` left out, so Σ country nets + Σ fund
  balances == 0 when every party's country is known;
- the reciprocity ratio is accepted(numerator) / accepted(denominator), 4 places
  half-even for display; `met` compares the exact ratio with `min_ratio`; with a zero
  denominator the ratio is undefined: `ratio` is None and `met` False;
- a settlement zeroes every balance in at most n − 1 payments (`core.netting`).

Standard library only; no I/O.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any, Final, NamedTuple

from dronedeal.core.fx import RateTable
from dronedeal.core.money import decimal_text, digits, format_amount
from dronedeal.core.netting import ProposedPayment, apply, settle

#: the places a ratio is reported with
RATIO_PLACES: Final = 4
FUND_KIND: Final = "fund"


class Batch(NamedTuple):
    """`units` with a value of `value` minor units of `currency`, of one flow, dated `on`:
    the unit of conversion (converted once, at the rate of `on`). A named tuple, not a
    dataclass: a large deal's position makes thousands of them, and a frozen dataclass
    costs five times as much to build."""

    flow_id: str
    on: dt.date
    currency: str
    units: int
    value: int


@dataclass(frozen=True, slots=True)
class Figure:
    """Units and their value in minor units of the agreement currency."""

    units: int
    value: int

    def document(self, currency: str) -> dict[str, Any]:
        return {"units": self.units, "value": format_amount(self.value, currency)}


ZERO: Final = Figure(0, 0)


#: above this many bits in `minor × numerator` (2**149 < 10**45) a conversion goes the
#: Decimal way: `money.convert` is exact only within its 50 significant digits
EXACT_BITS: Final = 149


class BatchConverter:
    """`RateTable.convert` for many amounts on few (currency, date) pairs: the exact
    factor numerator / denominator of each pair is looked up once, and an amount becomes
    round-half-even(minor × numerator / denominator) in integers — the same exact
    quotient, rounded once, that `AppliedRate.convert` computes with Decimal (a direct
    rate) or Fraction (an inverse one). Amounts too large for `money.convert`'s 50
    significant digits to be exact go through `RateTable.convert` itself."""

    __slots__ = ("_factors", "_rates")

    def __init__(self, rates: RateTable) -> None:
        self._rates = rates
        self._factors: dict[tuple[str, str, dt.date], tuple[int, int]] = {}

    def _factor(self, source: str, target: str, on: dt.date) -> tuple[int, int]:
        applied = self._rates.applied(source, target, on)
        if applied.quote is None:
            return 1, 1
        rate = Fraction(applied.quote.rate)
        scale = Fraction(10) ** (digits(target) - digits(source))
        factor = scale / rate if applied.inverse else scale * rate
        return factor.numerator, factor.denominator

    def convert(self, minor: int, source: str, target: str, on: dt.date) -> int:
        """`minor` (≥ 0) units of `source` in `target` at the rate of `on`, half-even;
        raises MissingRateError."""
        assert minor >= 0, "a converted amount is never negative"
        key = (source, target, on)
        factor = self._factors.get(key)
        if factor is None:
            factor = self._factors[key] = self._factor(source, target, on)
        numerator, denominator = factor
        product = minor * numerator
        if product.bit_length() > EXACT_BITS:
            return self._rates.convert(minor, source, target, on)
        quotient, remainder = divmod(product, denominator)
        twice = 2 * remainder
        if twice > denominator or (twice == denominator and quotient % 2 == 1):
            quotient += 1
        return quotient


def totals_by_flow(
    batches: Iterable[Batch], rates: RateTable | BatchConverter, currency: str
) -> dict[str, Figure]:
    """Per flow, Σ units and Σ value of `batches`, each converted into `currency` at the
    rate of its date and rounded half-even before summing. Raises MissingRateError."""
    converter = rates if isinstance(rates, BatchConverter) else BatchConverter(rates)
    units: defaultdict[str, int] = defaultdict(int)
    values: defaultdict[str, int] = defaultdict(int)
    for batch in batches:
        assert batch.units >= 0, f"a negative unit count in {batch.flow_id}"
        assert batch.value >= 0, f"a negative value in {batch.flow_id}"
        units[batch.flow_id] += batch.units
        values[batch.flow_id] += converter.convert(batch.value, batch.currency, currency,
                                                   batch.on)
    return {flow_id: Figure(units[flow_id], values[flow_id]) for flow_id in units}


@dataclass(frozen=True, slots=True)
class FlowPosition:
    flow_id: str
    ordered: Figure
    shipped: Figure
    accepted: Figure
    rejected: Figure
    paid: int

    def document(self, currency: str) -> dict[str, Any]:
        return {"flow_id": self.flow_id,
                "ordered": self.ordered.document(currency),
                "shipped": self.shipped.document(currency),
                "accepted": self.accepted.document(currency),
                "rejected": self.rejected.document(currency),
                "paid": format_amount(self.paid, currency)}


@dataclass(frozen=True, slots=True)
class PartyBalance:
    party_id: str
    #: None when the party is not in the store (a ledger posted without master data)
    country: str | None
    kind: str | None
    balance: int


@dataclass(frozen=True, slots=True)
class CountryNet:
    country: str
    net: int


@dataclass(frozen=True, slots=True)
class FundBalance:
    party_id: str
    balance: int


@dataclass(frozen=True, slots=True)
class ReciprocityStatus:
    #: None when the denominator flow has no accepted value
    ratio: Decimal | None
    min_ratio: Decimal
    met: bool

    def document(self) -> dict[str, Any]:
        return {"ratio": None if self.ratio is None else f"{self.ratio:.{RATIO_PLACES}f}",
                "min_ratio": decimal_text(self.min_ratio), "met": self.met}


def reciprocity_status(numerator: int, denominator: int, min_ratio: Decimal) -> ReciprocityStatus:
    """accepted(numerator) / accepted(denominator), 4 places half-even; `met` compares the
    exact ratio with `min_ratio`. A zero denominator gives no ratio and `met` False: no
    reciprocity can be claimed while nothing was bought the other way."""
    assert numerator >= 0, "an accepted value is never negative"
    assert denominator >= 0, "an accepted value is never negative"
    if denominator == 0:
        return ReciprocityStatus(None, min_ratio, met=False)
    exact = Fraction(numerator, denominator)
    with localcontext() as ctx:
        ctx.prec = 60
        ratio = (Decimal(numerator) / Decimal(denominator)).quantize(
            Decimal(1).scaleb(-RATIO_PLACES), rounding=ROUND_HALF_EVEN)
    return ReciprocityStatus(ratio, min_ratio, met=exact >= Fraction(min_ratio))


def country_nets(parties: Iterable[PartyBalance]) -> list[CountryNet]:
    """The net of the balances of each country's parties, funds left out, by country code."""
    nets: defaultdict[str, int] = defaultdict(int)
    for party in parties:
        if party.kind != FUND_KIND and party.country is not None:
            nets[party.country] += party.balance
    return [CountryNet(country, nets[country]) for country in sorted(nets)]


@dataclass(frozen=True, slots=True)
class Position:
    """SPEC §5's position report; `document()` is its stable JSON (docs/reports.md)."""

    agreement_id: str
    as_of: dt.date
    currency: str
    ceiling: int
    ceiling_used: int
    flows: tuple[FlowPosition, ...]
    #: every party with a ledger account, except the agreement's fund
    parties: tuple[PartyBalance, ...]
    countries: tuple[CountryNet, ...]
    fund: FundBalance | None
    reciprocity: ReciprocityStatus | None

    def document(self) -> dict[str, Any]:
        c = self.currency
        return {
            "agreement_id": self.agreement_id,
            "as_of": self.as_of.isoformat(),
            "currency": c,
            "ceiling": format_amount(self.ceiling, c),
            "ceiling_used": format_amount(self.ceiling_used, c),
            "flows": [flow.document(c) for flow in self.flows],
            "parties": [{"party_id": p.party_id, "country": p.country,
                         "balance": format_amount(p.balance, c)} for p in self.parties],
            "countries": [{"country": n.country, "net": format_amount(n.net, c)}
                          for n in self.countries],
            "fund": None if self.fund is None else {
                "party_id": self.fund.party_id,
                "balance": format_amount(self.fund.balance, c)},
            "reciprocity": None if self.reciprocity is None else self.reciprocity.document(),
        }


@dataclass(frozen=True, slots=True)
class FlowFigures:
    """What the store found for one flow, already in the agreement currency."""

    ordered: Figure = ZERO
    shipped: Figure = ZERO
    accepted: Figure = ZERO
    rejected: Figure = ZERO
    paid: int = 0


@dataclass(frozen=True, slots=True)
class AgreementTerms:
    """The parts of an agreement a position needs."""

    agreement_id: str
    currency: str
    ceiling: int
    flow_ids: tuple[str, ...]
    fund_party_id: str | None
    #: (numerator flow, denominator flow, min_ratio) or None
    reciprocity: tuple[str, str, Decimal] | None


def build_position(
    *,
    terms: AgreementTerms,
    as_of: dt.date,
    figures: Mapping[str, FlowFigures],
    balances: Mapping[str, int],
    profiles: Mapping[str, tuple[str, str]],
) -> Position:
    """Assemble the position from per-flow figures and the ledger's balances.

    `balances` maps every party with an account to credits − debits; `profiles` maps
    party ids to (country, kind) for those the store knows.
    """
    assert sum(balances.values()) == 0, (
        f"balances of agreement {terms.agreement_id} sum to {sum(balances.values())}, not 0")
    flows = tuple(
        FlowPosition(flow_id, f.ordered, f.shipped, f.accepted, f.rejected, f.paid)
        for flow_id in terms.flow_ids for f in [figures.get(flow_id, FlowFigures())])
    parties: list[PartyBalance] = []
    for party_id, balance in sorted(balances.items()):
        if party_id == terms.fund_party_id:
            continue
        country, kind = profiles.get(party_id) or (None, None)
        parties.append(PartyBalance(party_id, country, kind, balance))
    fund = None if terms.fund_party_id is None else FundBalance(
        terms.fund_party_id, balances.get(terms.fund_party_id, 0))
    assert sum(p.balance for p in parties) + (fund.balance if fund else 0) == 0
    countries = tuple(country_nets(parties))
    reciprocity = None
    if terms.reciprocity is not None:
        numerator, denominator, min_ratio = terms.reciprocity
        reciprocity = reciprocity_status(
            figures.get(numerator, FlowFigures()).accepted.value,
            figures.get(denominator, FlowFigures()).accepted.value, min_ratio)
    return Position(
        agreement_id=terms.agreement_id, as_of=as_of, currency=terms.currency,
        ceiling=terms.ceiling, ceiling_used=sum(f.ordered.value for f in flows),
        flows=flows, parties=tuple(parties), countries=countries, fund=fund,
        reciprocity=reciprocity)


@dataclass(frozen=True, slots=True)
class Settlement:
    """SPEC §5's settlement proposal; `document()` is its stable JSON (docs/reports.md)."""

    agreement_id: str
    as_of: dt.date
    currency: str
    payments: tuple[ProposedPayment, ...]

    def document(self) -> dict[str, Any]:
        return {"agreement_id": self.agreement_id, "as_of": self.as_of.isoformat(),
                "currency": self.currency,
                "payments": [{"payer_id": p.payer_id, "payee_id": p.payee_id,
                              "amount": format_amount(p.amount, self.currency)}
                             for p in self.payments]}


def build_settlement(
    *, agreement_id: str, as_of: dt.date, currency: str, balances: Mapping[str, int]
) -> Settlement:
    """The payments that zero `balances` (the fund's included), at most n − 1 of them."""
    payments: Sequence[ProposedPayment] = settle(balances)
    owing = sum(1 for balance in balances.values() if balance != 0)
    assert len(payments) <= max(owing - 1, 0), "a settlement has at most n − 1 payments"
    assert not any(apply(balances, list(payments)).values()), "a settlement zeroes every balance"
    return Settlement(agreement_id, as_of, currency, tuple(payments))
