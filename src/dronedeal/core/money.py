"""Money: integer minor units beside an ISO 4217 code, never a float.

Amounts enter as decimal strings (`1250.00`, `1250`) with at most the currency's
minor-unit digits, no thousands separators and no exponent. Conversion multiplies
by an exact `Decimal` rate and rounds half-even to the target's minor unit, once.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from dronedeal.core.iso import CURRENCY_DIGITS

_AMOUNT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
_RATE = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")


def digits(currency: str) -> int:
    """The number of minor-unit digits of a currency (USD 2, JPY 0, KWD 3)."""
    return CURRENCY_DIGITS[currency]


def parse_amount(text: str, currency: str) -> int:
    """`"1250.50"` in USD -> 125050; raises ValueError with a sentence a clerk can act on."""
    text = text.strip()
    if not text:
        raise ValueError("amount is empty; write a decimal number such as 1250.00")
    if "," in text or " " in text or "_" in text or "'" in text:
        raise ValueError(
            f"amount {text!r} has a thousands separator; write it plainly, e.g. 1250000.00"
        )
    if "e" in text.lower():
        raise ValueError(f"amount {text!r} has an exponent; write all its digits, e.g. 1500000")
    if text.startswith("+"):
        text = text[1:]
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"amount {text!r} is not a decimal number such as 1250.00")
    places = digits(currency)
    whole, _, frac = text.lstrip("-").partition(".")
    if len(frac) > places:
        raise ValueError(
            f"amount {text!r} has {len(frac)} decimals but {currency} has {places}; "
            f"round it to {places} decimals"
        )
    minor: int = int(whole) * 10**places + (int(frac.ljust(places, "0")) if places else 0)
    return -minor if text.startswith("-") else minor


def parse_rate(text: str) -> Decimal:
    """A positive exact decimal rate such as `41.3`; no exponent, no separators."""
    text = text.strip()
    if not _RATE.fullmatch(text):
        raise ValueError(f"rate {text!r} is not a positive decimal number such as 41.3")
    rate = Decimal(text)
    if rate <= 0:
        raise ValueError(f"rate {text!r} must be greater than zero")
    return rate


def decimal_text(value: Decimal) -> str:
    """A Decimal as its shortest plain text: `41.30` -> `41.3`, `1E+1` -> `10`."""
    text = format(value.normalize(), "f")
    return text


def format_amount(minor: int, currency: str) -> str:
    """125050 in USD -> `"1250.50"`: exactly the currency's minor digits."""
    places = digits(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}" if places else f"{sign}{whole}"


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units as an exact Decimal in major units."""
    return Decimal(minor).scaleb(-digits(currency))


def convert(minor: int, source: str, target: str, rate: Decimal) -> int:
    """Convert `minor` units of `source` into `target` at `rate` (1 source = rate target).

    Rounds half-even to the target's minor unit. The caller keeps the original amount.
    """
    if source == target:
        assert rate == 1, "a currency converts to itself at 1"
        return minor
    with localcontext() as ctx:
        ctx.prec = 50
        major = to_decimal(minor, source) * rate
        scaled = major.scaleb(digits(target)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    return int(scaled)


def share_of(minor: int, share: Decimal) -> int:
    """`share` of an amount in the same currency, rounded half-even to the minor unit."""
    with localcontext() as ctx:
        ctx.prec = 50
        return int((Decimal(minor) * share).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
