"""Monthly demo FX rates: a bounded random walk in integer ten-thousandths, no floats.

Four rates walk (USD→UAH, USD→EUR, EUR→DKK held near its ERM II central rate, USD→NOK);
every other pair is derived from them, so the table is consistent: converting USD to
UAH directly or through EUR agrees to the sixth decimal. Every pair among the demo's
currencies is given in one direction, so the importer finds a direct or inverse rate
whichever two currencies it has to convert between.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_EVEN, Decimal

from dronedeal.core.records import FxRate

FIRST_MONTH = dt.date(2025, 1, 1)
MONTHS = 24  # 2025-01-01 .. 2026-12-01
_SCALE = 10_000  # walks move in ten-thousandths
_PLACES = Decimal("0.000001")

# (base, quote): start, low, high, largest monthly step — all in ten-thousandths.
_WALKS: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("USD", "UAH"): (419_000, 410_000, 425_000, 3_500),
    ("USD", "EUR"): (9_250, 8_600, 9_300, 150),
    ("EUR", "DKK"): (74_600, 74_550, 74_650, 20),
    ("USD", "NOK"): (111_000, 100_000, 112_000, 2_500),
}

#: Every pair the pack carries, in this order on each date.
PAIRS = (
    ("USD", "UAH"), ("USD", "EUR"), ("USD", "DKK"), ("USD", "NOK"),
    ("EUR", "UAH"), ("EUR", "DKK"), ("EUR", "NOK"),
    ("DKK", "UAH"), ("NOK", "UAH"), ("DKK", "NOK"),
)


def month_starts(first: dt.date = FIRST_MONTH, months: int = MONTHS) -> list[dt.date]:
    """The first day of `months` consecutive months from `first`."""
    return [dt.date(first.year + (first.month - 1 + k) // 12, (first.month - 1 + k) % 12 + 1, 1)
            for k in range(months)]


def _walk(rng: random.Random, *, start: int, low: int, high: int, step: int,
          n: int) -> list[int]:
    """`n` values from `start`, each within `step` of the last, reflected back into [low, high]."""
    values = [start]
    for _ in range(n - 1):
        value = values[-1] + rng.randint(-step, step)
        if value > high:
            value = 2 * high - value
        if value < low:
            value = 2 * low - value
        values.append(value)
    assert all(low <= v <= high for v in values)
    return values


def demo_rates(rng: random.Random) -> list[FxRate]:
    """The monthly rates of every pair in `PAIRS`, first of each month, 2025-01 to 2026-12."""
    dates = month_starts()
    walks = {pair: _walk(rng, start=start, low=low, high=high, step=step, n=len(dates))
             for pair, (start, low, high, step) in _WALKS.items()}
    rates: list[FxRate] = []
    for k, date in enumerate(dates):
        per_usd = {"USD": Decimal(1)}
        per_usd["UAH"] = Decimal(walks["USD", "UAH"][k]) / _SCALE
        per_usd["EUR"] = Decimal(walks["USD", "EUR"][k]) / _SCALE
        per_usd["NOK"] = Decimal(walks["USD", "NOK"][k]) / _SCALE
        per_usd["DKK"] = per_usd["EUR"] * Decimal(walks["EUR", "DKK"][k]) / _SCALE
        for base, quote in PAIRS:
            rate = (per_usd[quote] / per_usd[base]).quantize(_PLACES, rounding=ROUND_HALF_EVEN)
            assert rate > 0
            rates.append(FxRate(date=date, base=base, quote=quote, rate=rate))
    return rates
