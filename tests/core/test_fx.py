"""FX: the latest rate on or before a date, inverse rates, half-even rounding, missing rates."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dronedeal.core.fx import MissingRateError, RateTable
from dronedeal.core.money import convert, digits
from dronedeal.core.records import FxRate

D = dt.date


def rate(day: str, base: str, quote: str, value: str) -> FxRate:
    return FxRate(dt.date.fromisoformat(day), base, quote, Decimal(value))


TABLE = RateTable([
    rate("2025-01-01", "UAH", "USD", "0.025"),
    rate("2025-02-01", "UAH", "USD", "0.024"),
    rate("2025-01-15", "USD", "DKK", "6.9"),
    rate("2025-01-01", "EUR", "USD", "1.08"),
])


def test_latest_rate_on_or_before_the_date_applies() -> None:
    assert TABLE.rate("UAH", "USD", D(2025, 1, 1)) == Decimal("0.025")
    assert TABLE.rate("UAH", "USD", D(2025, 1, 31)) == Decimal("0.025")
    assert TABLE.rate("UAH", "USD", D(2025, 2, 1)) == Decimal("0.024")
    assert TABLE.rate("UAH", "USD", D(2030, 1, 1)) == Decimal("0.024")
    # 1,000.00 UAH on 2025-01-20 at 0.025 -> 25.00 USD
    assert TABLE.convert(100_000, "UAH", "USD", D(2025, 1, 20)) == 2_500


def test_same_currency_converts_at_one_without_a_rate() -> None:
    assert TABLE.convert(12_345, "JPY", "JPY", D(1999, 1, 1)) == 12_345


def test_inverse_pair_divides_by_the_rate() -> None:
    # only EUR->USD 1.08 is known: 100.00 USD -> 100 / 1.08 = 92.592592... EUR -> 92.59
    assert TABLE.convert(10_000, "USD", "EUR", D(2025, 6, 1)) == 9_259
    assert TABLE.rate("USD", "EUR", D(2025, 6, 1)) == 1 / Fraction(Decimal("1.08"))
    applied = TABLE.applied("USD", "EUR", D(2025, 6, 1))
    assert applied.inverse
    assert applied.quote == rate("2025-01-01", "EUR", "USD", "1.08")


def test_direct_pair_wins_over_the_inverse() -> None:
    table = RateTable([rate("2025-01-01", "USD", "EUR", "0.9"),
                       rate("2025-03-01", "EUR", "USD", "1.25")])
    assert table.convert(10_000, "USD", "EUR", D(2025, 4, 1)) == 9_000
    # the other way round, only the inverse of the USD->EUR quote is known before March
    assert table.convert(9_000, "EUR", "USD", D(2025, 2, 1)) == 10_000
    assert table.convert(10_000, "EUR", "USD", D(2025, 3, 1)) == 12_500
    with pytest.raises(MissingRateError):
        table.convert(10_000, "USD", "EUR", D(2024, 12, 31))


def test_inverse_before_the_direct_rate_starts() -> None:
    table = RateTable([rate("2025-03-01", "USD", "EUR", "0.9"),
                       rate("2025-01-01", "EUR", "USD", "1.25")])
    assert table.convert(10_000, "USD", "EUR", D(2025, 2, 1)) == 8_000  # 100 / 1.25
    assert table.convert(10_000, "USD", "EUR", D(2025, 3, 1)) == 9_000


def test_missing_rate_names_the_pair_the_date_and_the_fix() -> None:
    with pytest.raises(MissingRateError) as info:
        TABLE.convert(100, "USD", "NOK", D(2025, 3, 4))
    assert str(info.value) == "no USD→NOK rate on or before 2025-03-04; add one to fx_rates"
    # a rate that starts after the event date does not apply
    with pytest.raises(MissingRateError, match="no USD→DKK rate on or before 2025-01-14"):
        TABLE.convert(100, "USD", "DKK", D(2025, 1, 14))


def test_two_different_rates_for_one_pair_and_date_are_refused() -> None:
    with pytest.raises(ValueError, match="two USD→EUR rates on 2025-01-01"):
        RateTable([rate("2025-01-01", "USD", "EUR", "0.9"),
                   rate("2025-01-01", "USD", "EUR", "0.91")])


def test_ties_round_half_even() -> None:
    table = RateTable([rate("2025-01-01", "USD", "JPY", "0.5"),
                       rate("2025-01-01", "EUR", "USD", "2")])
    # 0.01 USD * 0.5 = 0.005 -> JPY has no minor digits: 0 (0.005 -> 0); 1.00 USD -> 0.5 -> 0
    assert table.convert(100, "USD", "JPY", D(2025, 1, 1)) == 0
    assert table.convert(300, "USD", "JPY", D(2025, 1, 1)) == 2  # 1.5 -> 2
    assert table.convert(500, "USD", "JPY", D(2025, 1, 1)) == 2  # 2.5 -> 2
    # inverse: 0.01 USD / 2 = 0.005 EUR -> 0.00; 0.03 / 2 = 0.015 -> 0.02
    assert table.convert(1, "USD", "EUR", D(2025, 1, 1)) == 0
    assert table.convert(3, "USD", "EUR", D(2025, 1, 1)) == 2


CURRENCIES = st.sampled_from(["USD", "EUR", "UAH", "JPY", "KWD", "DKK", "CLF"])
RATES = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("100000"), places=6,
                    allow_nan=False, allow_infinity=False).filter(lambda r: r > 0)
AMOUNTS = st.integers(min_value=0, max_value=10**15)


def half_even(value: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 100
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@given(AMOUNTS, CURRENCIES, CURRENCIES, RATES)
def test_direct_conversion_is_one_half_even_rounding_of_the_exact_product(
    minor: int, source: str, target: str, value: Decimal
) -> None:
    if source == target:
        return
    table = RateTable([FxRate(D(2025, 1, 1), source, target, value)])
    with localcontext() as ctx:
        ctx.prec = 100
        exact = Decimal(minor).scaleb(-digits(source)) * value
        expected = half_even(exact.scaleb(digits(target)))
    assert table.convert(minor, source, target, D(2025, 5, 1)) == expected
    assert table.convert(minor, source, target, D(2025, 5, 1)) == convert(
        minor, source, target, value)


@given(AMOUNTS, CURRENCIES, CURRENCIES, RATES)
def test_inverse_conversion_is_one_half_even_rounding_of_the_exact_quotient(
    minor: int, source: str, target: str, value: Decimal
) -> None:
    if source == target:
        return
    table = RateTable([FxRate(D(2025, 1, 1), target, source, value)])
    exact = Fraction(minor, 10 ** digits(source)) / Fraction(value) * 10 ** digits(target)
    floor, remainder = divmod(exact.numerator, exact.denominator)
    twice = 2 * remainder
    if twice > exact.denominator or (twice == exact.denominator and floor % 2 == 1):
        floor += 1
    assert table.convert(minor, source, target, D(2025, 5, 1)) == floor
