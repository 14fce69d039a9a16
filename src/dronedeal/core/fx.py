"""Foreign-exchange rates of a deal: which rate applies on a date, and conversion at it.

A rate `1 base = rate quote` holds from its date on; the latest rate on or before an
event's date applies. When the table knows the pair in the asked direction on or before
the date, that rate is used; only when it knows the inverse pair alone is the amount
divided by the inverse rate. Conversion is exact and rounds half-even to the target's
minor unit exactly once, at the end (`money.convert` for a direct rate, an exact
fraction for an inverse one, so no intermediate rounding can tip a tie). A missing rate
is an error that says which rate to add. Standard library only.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from dronedeal.core.money import convert, digits
from dronedeal.core.records import FxRate


class MissingRateError(ValueError):
    """No rate for a currency pair on or before a date; the message says what to add."""

    def __init__(self, source: str, target: str, on: dt.date) -> None:
        self.source = source
        self.target = target
        self.on = on
        super().__init__(
            f"no {source}→{target} rate on or before {on.isoformat()}; add one to fx_rates"
        )


@dataclass(frozen=True, slots=True)
class AppliedRate:
    """The rate chosen for a conversion: the quote it came from and whether it is inverted."""

    source: str
    target: str
    quote: FxRate | None  # None when source == target (the rate is 1)
    inverse: bool

    def convert(self, minor: int) -> int:
        """`minor` units of `source` in `target` minor units, half-even, rounded once."""
        if self.quote is None:
            return minor
        if not self.inverse:
            return convert(minor, self.source, self.target, self.quote.rate)
        # minor / 10**ds / rate * 10**dt, exactly; round() on a Fraction is half-even.
        exact = Fraction(minor) * 10 ** digits(self.target) / (
            Fraction(self.quote.rate) * 10 ** digits(self.source)
        )
        rounded: int = round(exact)
        return rounded


class RateTable:
    """FX rates by pair, sorted by date; read-only once built."""

    __slots__ = ("_dates", "_rates")

    def __init__(self, rates: Iterable[FxRate] = ()) -> None:
        by_pair: dict[tuple[str, str], dict[dt.date, FxRate]] = {}
        for rate in rates:
            assert rate.rate > 0, f"rate {rate.key} must be positive"
            assert rate.base != rate.quote, f"rate {rate.key} quotes a currency against itself"
            pair = by_pair.setdefault((rate.base, rate.quote), {})
            previous = pair.get(rate.date)
            if previous is not None and previous.rate != rate.rate:
                raise ValueError(
                    f"two {rate.base}→{rate.quote} rates on {rate.date.isoformat()} "
                    f"({previous.rate} and {rate.rate}); keep one"
                )
            pair[rate.date] = rate
        self._dates: dict[tuple[str, str], list[dt.date]] = {}
        self._rates: dict[tuple[str, str], list[FxRate]] = {}
        for key, pair in by_pair.items():
            ordered = sorted(pair)
            self._dates[key] = ordered
            self._rates[key] = [pair[day] for day in ordered]

    def _latest(self, base: str, quote: str, on: dt.date) -> FxRate | None:
        dates = self._dates.get((base, quote))
        if not dates:
            return None
        position = bisect.bisect_right(dates, on)
        return self._rates[(base, quote)][position - 1] if position else None

    def applied(self, source: str, target: str, on: dt.date) -> AppliedRate:
        """The rate that converts `source` into `target` on `on`; raises MissingRateError."""
        if source == target:
            return AppliedRate(source, target, None, inverse=False)
        direct = self._latest(source, target, on)
        if direct is not None:
            return AppliedRate(source, target, direct, inverse=False)
        inverse = self._latest(target, source, on)
        if inverse is not None:
            return AppliedRate(source, target, inverse, inverse=True)
        raise MissingRateError(source, target, on)

    def rate(self, source: str, target: str, on: dt.date) -> Decimal | Fraction:
        """1 `source` = this many `target` on `on` (a Fraction when it is an inverted quote)."""
        applied = self.applied(source, target, on)
        if applied.quote is None:
            return Decimal(1)
        return 1 / Fraction(applied.quote.rate) if applied.inverse else applied.quote.rate

    def convert(self, minor: int, source: str, target: str, on: dt.date) -> int:
        """`minor` units of `source` in `target` at the rate of `on`, rounded half-even once."""
        return self.applied(source, target, on).convert(minor)
