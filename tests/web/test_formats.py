"""The dashboard's own number and amount formatting equals Babel's, in both languages
(no browser, no database)."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal
from hypothesis import given, settings
from hypothesis import strategies as st

from dronedeal.api.web.i18n import LANGUAGES, LOCALES, Formats
from dronedeal.core.money import digits, to_decimal

CURRENCIES = ("USD", "UAH", "EUR", "DKK", "JPY", "KWD")


def _babel_money(minor: int, currency: str, lang: str) -> str:
    places = digits(currency)
    pattern = "#,##0" + ("." + "0" * places if places else "")
    text = format_decimal(to_decimal(minor, currency), format=pattern, locale=LOCALES[lang])
    return f"{text} {currency}"


@settings(max_examples=300, deadline=None)
@given(minor=st.one_of(st.integers(-10**4, 10**4), st.integers(-10**18, 10**18)),
       currency=st.sampled_from(CURRENCIES), lang=st.sampled_from(LANGUAGES))
def test_money_is_written_as_babel_writes_it(minor: int, currency: str, lang: str) -> None:
    assert Formats(lang).money(minor, currency) == _babel_money(minor, currency, lang)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.integers(-10**4, 10**4), st.integers(-10**18, 10**18)),
       lang=st.sampled_from(LANGUAGES))
def test_whole_numbers_are_written_as_babel_writes_them(value: int, lang: str) -> None:
    assert Formats(lang).number(value) == format_decimal(value, locale=LOCALES[lang])


def test_the_ukrainian_amount_groups_with_no_break_spaces() -> None:
    assert Formats("uk").money(3_000_000_000_000, "USD") == "30\xa0000\xa0000\xa0000,00 USD"
    assert Formats("en").money(-123_456, "USD") == "-1,234.56 USD"
    assert Formats("en").number(Decimal("1234.5")) == "1,234.5"
