"""How big a demo deal is: the two sizes `dronedeal demo --scale` offers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Scale:
    """Sizes of one demo deal; `large` is the benchmark-sized one (≥ 1,000,000 units)."""

    name: str
    ua_manufacturers: int
    ua_products: int
    us_products: int
    #: share of the products eligible for the US drone flow that get orders on it
    ordered_share: float
    #: multiplies the per-order quantity ranges of `deals.ORDER_QUANTITY` on the US flow
    us_quantity_factor: int
    #: products ordered on each European flow (the Danish model buys at a smaller scale)
    eu_products: int
    #: US orders are topped up until all orders' units reach this (0: no floor)
    min_units: int


SCALES: dict[str, Scale] = {
    "small": Scale(name="small", ua_manufacturers=44, ua_products=130, us_products=16,
                   ordered_share=0.6, us_quantity_factor=1, eu_products=25, min_units=0),
    "large": Scale(name="large", ua_manufacturers=320, ua_products=1_100, us_products=40,
                   ordered_share=0.7, us_quantity_factor=8, eu_products=60,
                   min_units=1_000_000),
}
