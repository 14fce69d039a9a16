"""Reading one cell: text in, a typed value or a `ValueError` a clerk can act on out.

Every cell reaches these parsers as stripped, non-empty text; a spreadsheet's typed
cells are first turned into the text they stand for (`spreadsheet_text`): a number is
the shortest decimal that round-trips (41.3 is 41.3, never 41.29999…), a date cell is
its date. So a CSV and an XLSX of the same data are checked by the same code. Messages
quote the value and say what to write instead; the column is named by the caller.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import math
import re
from collections.abc import Callable
from decimal import Decimal

from dronedeal.core.iso import COUNTRIES, CURRENCY_DIGITS
from dronedeal.core.money import decimal_text, parse_amount, parse_rate
from dronedeal.pack.tables import Column, Kind

ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
MAX_TEXT = 1000
"""Longest text cell, in characters: a name or a description, not a document."""
MAX_COUNT = 10**15
"""Largest quantity: canonical log leaves keep integers below 2**53."""
MAX_MINOR = 10**18
"""Largest amount in minor units: the store keeps them in a signed 64-bit integer."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNT = re.compile(r"[0-9]+")


def quoted(text: str) -> str:
    """A value as messages show it: in double quotes, cut short when long."""
    return f'"{text[:60]}…"' if len(text) > 60 else f'"{text}"'


def closest(text: str, choices: tuple[str, ...] | list[str]) -> str | None:
    """The choice `text` most likely misspells (case-insensitive, `difflib`), if any."""
    lowered = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(text.lower(), list(lowered), n=1, cutoff=0.6)
    return lowered[match[0]] if match else None


def suggestion(text: str, choices: tuple[str, ...] | list[str]) -> str:
    """`; did you mean "x"?` for the closest choice, or nothing."""
    meant = closest(text, choices)
    return f'; did you mean "{meant}"?' if meant else ""


def parse_id(text: str) -> str:
    if ID_PATTERN.fullmatch(text):
        return text
    reason = "is longer than 64 characters" if len(text) > 64 else "is not a valid id"
    raise ValueError(f"{quoted(text)} {reason}; an id is 1 to 64 letters, digits or . _ : - "
                     "(no spaces)")


def parse_text(text: str) -> str:
    if len(text) > MAX_TEXT:
        raise ValueError(f"text of {len(text)} characters is too long; "
                         f"keep it to {MAX_TEXT} characters")
    return text


def parse_country(text: str) -> str:
    if text in COUNTRIES:
        return text
    if text.upper() in COUNTRIES:
        raise ValueError(f"{quoted(text)} must be written in capitals: {text.upper()}")
    raise ValueError(f"{quoted(text)} is not an ISO 3166-1 alpha-2 country code "
                     "such as UA, US or DK")


def parse_currency(text: str) -> str:
    if text in CURRENCY_DIGITS:
        return text
    if text.upper() in CURRENCY_DIGITS:
        raise ValueError(f"{quoted(text)} must be written in capitals: {text.upper()}")
    raise ValueError(f"{quoted(text)} is not an ISO 4217 currency code such as USD, EUR or UAH")


def parse_choice(text: str, choices: tuple[str, ...], what: str) -> str:
    if text in choices:
        return text
    hint = suggestion(text, choices) or f"; use one of: {', '.join(choices)}"
    raise ValueError(f"{quoted(text)} is not a known {what}{hint}")


def parse_date(text: str) -> dt.date:
    if not _DATE.fullmatch(text):
        raise ValueError(f"{quoted(text)} is not a date; write it as YYYY-MM-DD, e.g. 2025-08-01")
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{quoted(text)} is not a date that exists; check the month "
                         "and the day") from None


def parse_count(text: str, minimum: int) -> int:
    """A whole number of units, at least `minimum` (0 or 1)."""
    if not _COUNT.fullmatch(text):
        if text.startswith("-") and _COUNT.fullmatch(text[1:]):
            raise ValueError(_below(text, minimum))
        if any(sep in text for sep in ", _'"):
            raise ValueError(f"{quoted(text)} has a thousands separator; write digits only, "
                             "e.g. 1000")
        if "e" in text.lower():
            raise ValueError(f"{quoted(text)} has an exponent; write all its digits, e.g. 1500")
        raise ValueError(f"{quoted(text)} is not a whole number; write digits only, e.g. 12")
    count = int(text)
    if count < minimum:
        raise ValueError(_below(text, minimum))
    if count > MAX_COUNT:
        raise ValueError(f"{quoted(text)} is too large; at most {MAX_COUNT}")
    return count


def _below(text: str, minimum: int) -> str:
    bound = "greater than 0" if minimum == 1 else f"at least {minimum}"
    if minimum == 0:
        bound = "0 or more"
    return f"{quoted(text)} must be {bound}"


def parse_money(text: str, currency: str, minimum: int) -> int:
    """An amount in minor units of `currency`, at least `minimum` minor units (0 or 1)."""
    minor = parse_amount(text, currency)
    if minor < minimum:
        raise ValueError(f"amount {quoted(text)} must be "
                         f"{'greater than 0' if minimum == 1 else 'zero or more'}")
    if minor > MAX_MINOR:
        raise ValueError(f"amount {quoted(text)} is too large for {currency}")
    return minor


def cell_parser(column: Column) -> Callable[[str], object]:
    """The parser of a non-amount column (amounts need their row: `parse_money`)."""
    kind = column.kind
    if kind is Kind.CHOICE:
        return functools.partial(parse_choice, choices=column.choices, what=column.what)
    if kind is Kind.COUNT:
        return functools.partial(parse_count, minimum=column.minimum)
    parsers: dict[Kind, Callable[[str], object]] = {
        Kind.ID: parse_id, Kind.TEXT: parse_text, Kind.COUNTRY: parse_country,
        Kind.CURRENCY: parse_currency, Kind.DATE: _parse_date_cached, Kind.RATE: parse_rate,
    }
    assert kind in parsers, f"{column.name}: {kind} is parsed with its row"
    return parsers[kind]


_parse_date_cached = functools.lru_cache(maxsize=4096)(parse_date)
"""Event files repeat few dates over many rows; only valid dates are cached."""


def spreadsheet_text(value: object) -> str | None:
    """The text a typed spreadsheet cell stands for; None for an empty cell.

    Raises ValueError for cells that hold no pack value: TRUE/FALSE, times, NaN.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"is a TRUE/FALSE cell ({str(value).upper()}); no pack column holds "
                         "a yes/no value, write the value as text or a number")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"is not a number ({value}); write a decimal number")
        return decimal_text(Decimal(repr(value)))
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time | dt.timedelta):
        raise ValueError("is a time cell; write a date as YYYY-MM-DD or the value as text")
    if isinstance(value, str):
        return value.strip() or None
    raise ValueError(f"is a {type(value).__name__} cell; write the value as text")
