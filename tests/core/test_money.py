"""Money is never a float: parsing, formatting and half-even conversion."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dronedeal.core.iso import CURRENCY_DIGITS
from dronedeal.core.money import convert, format_amount, parse_amount, parse_rate, share_of

currencies = st.sampled_from(sorted(CURRENCY_DIGITS))


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [("1250.00", "USD", 125000), ("1250", "USD", 125000), ("0.5", "USD", 50),
     ("-3.25", "EUR", -325), ("1000", "JPY", 1000), ("1.234", "KWD", 1234)],
)
def test_parse(text: str, currency: str, minor: int) -> None:
    assert parse_amount(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "phrase"),
    [("1,250.00", "thousands separator"), ("1 250", "thousands separator"),
     ("1.5e3", "exponent"), ("1E3", "exponent"), ("12.345", "has 3 decimals but USD has 2"),
     ("", "empty"), ("abc", "not a decimal number"), ("1.", "not a decimal number"),
     ("01.00", "not a decimal number")],
)
def test_parse_refuses_with_a_sentence(text: str, phrase: str) -> None:
    with pytest.raises(ValueError, match=phrase):
        parse_amount(text, "USD")


@given(st.integers(min_value=-(10**15), max_value=10**15), currencies)
def test_format_then_parse_round_trips(minor: int, currency: str) -> None:
    text = format_amount(minor, currency)
    assert parse_amount(text, currency) == minor
    places = CURRENCY_DIGITS[currency]
    assert len(text.partition(".")[2]) == places


@given(st.integers(min_value=0, max_value=10**14),
       st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("10000"), places=6),
       currencies, currencies)
def test_convert_is_half_even_once(minor: int, rate: Decimal, source: str, target: str) -> None:
    if source == target:
        return
    exact = Decimal(minor) / Decimal(10) ** CURRENCY_DIGITS[source] * rate
    expected = (exact * Decimal(10) ** CURRENCY_DIGITS[target]).quantize(
        Decimal(1), rounding=ROUND_HALF_EVEN)
    assert convert(minor, source, target, rate) == int(expected)


def test_half_even_ties() -> None:
    assert convert(5, "USD", "JPY", Decimal("1")) == 0  # 0.05 USD -> 0.05 JPY -> 0
    assert convert(50, "USD", "JPY", Decimal("1")) == 0  # 0.5 -> 0 (even)
    assert convert(150, "USD", "JPY", Decimal("1")) == 2  # 1.5 -> 2 (even)
    assert share_of(25, Decimal("0.1")) == 2  # 2.5 -> 2
    assert share_of(35, Decimal("0.1")) == 4  # 3.5 -> 4


def test_rate() -> None:
    assert parse_rate("41.3") == Decimal("41.3")
    for bad in ("0", "-1", "4e1", "1,5", ""):
        with pytest.raises(ValueError, match="rate"):
            parse_rate(bad)
