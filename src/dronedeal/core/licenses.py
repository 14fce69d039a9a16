"""Export licenses that draw down: the rules of one draw, as plain data.

A license lets its exporter ship its product to its end user between `valid_from` and
`valid_to` (both inclusive), up to `max_quantity` units and `max_value` minor units of
its currency in total. Each shipment or lot draws quantity and value; what is left is
the maximum less every draw. `judge_draw` says whether one more draw fits, and if not,
why, in a sentence a clerk can act on. The store and the locking live elsewhere
(`services.licenses`); this module decides.

Invariants: a granted draw never takes the drawn quantity above `max_quantity` nor the
drawn value above `max_value`; a draw is for a positive quantity and a non-negative
value.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from dronedeal.core.money import format_amount
from dronedeal.core.records import License


class DrawRefusal(StrEnum):
    """Why a draw was refused (stable codes for machines; messages are for people)."""

    unknown_license = "unknown_license"
    expired = "expired"
    not_yet_valid = "not_yet_valid"
    wrong_product = "wrong_product"
    wrong_exporter = "wrong_exporter"
    wrong_end_user = "wrong_end_user"
    quantity_exhausted = "quantity_exhausted"
    value_exhausted = "value_exhausted"
    bad_amount = "bad_amount"
    reference_conflict = "reference_conflict"


@dataclass(frozen=True, slots=True)
class Draw:
    """One request to draw on a license: `quantity` units worth `value` minor units of
    the license's currency, for the shipment or lot `reference`, dated `on`."""

    license_id: str
    product_id: str
    exporter_id: str
    end_user_id: str
    on: dt.date
    quantity: int
    value: int
    reference: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused draw: `index` into the draws asked for, a code and a sentence."""

    index: int
    license_id: str
    reference: str
    reason: DrawRefusal
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Remaining:
    """What a license allows, what was drawn, and what is left."""

    license_id: str
    product_id: str
    exporter_id: str
    end_user_id: str
    currency: str
    valid_from: dt.date
    valid_to: dt.date
    max_quantity: int
    max_value: int
    drawn_quantity: int
    drawn_value: int

    @classmethod
    def of(cls, lic: License, drawn_quantity: int, drawn_value: int) -> Remaining:
        return cls(lic.license_id, lic.product_id, lic.exporter_id, lic.end_user_id,
                   lic.currency, lic.valid_from, lic.valid_to, lic.max_quantity,
                   lic.max_value, drawn_quantity, drawn_value)

    @property
    def quantity(self) -> int:
        """Units left (negative only if a later import lowered the maximum)."""
        return self.max_quantity - self.drawn_quantity

    @property
    def value(self) -> int:
        """Minor units of `currency` left."""
        return self.max_value - self.drawn_value

    def as_json(self) -> dict[str, str | int]:
        return {"license_id": self.license_id, "product_id": self.product_id,
                "exporter_id": self.exporter_id, "end_user_id": self.end_user_id,
                "currency": self.currency, "valid_from": self.valid_from.isoformat(),
                "valid_to": self.valid_to.isoformat(),
                "max_quantity": self.max_quantity, "drawn_quantity": self.drawn_quantity,
                "remaining_quantity": self.quantity,
                "max_value": format_amount(self.max_value, self.currency),
                "drawn_value": format_amount(self.drawn_value, self.currency),
                "remaining_value": format_amount(self.value, self.currency)}


def judge_draw(lic: License, draw: Draw, *, drawn_quantity: int,
               drawn_value: int) -> tuple[DrawRefusal, str] | None:
    """None when `draw` fits `lic` after what was already drawn, else (code, sentence)."""
    name = f"license {lic.license_id}"
    if draw.quantity <= 0 or draw.value < 0:
        return DrawRefusal.bad_amount, (
            f"{name}: a draw needs a positive quantity and a value of zero or more; got "
            f"{draw.quantity} units worth {format_amount(draw.value, lic.currency)} "
            f"{lic.currency}")
    if draw.product_id != lic.product_id:
        return DrawRefusal.wrong_product, (
            f"{name} covers product {lic.product_id}, not {draw.product_id}")
    if draw.exporter_id != lic.exporter_id:
        return DrawRefusal.wrong_exporter, (
            f"{name} is granted to exporter {lic.exporter_id}, not {draw.exporter_id}")
    if draw.end_user_id != lic.end_user_id:
        return DrawRefusal.wrong_end_user, (
            f"{name} names end user {lic.end_user_id}, not {draw.end_user_id}")
    if draw.on < lic.valid_from:
        return DrawRefusal.not_yet_valid, (
            f"{name} is not valid yet on {draw.on.isoformat()}: it is valid from "
            f"{lic.valid_from.isoformat()} to {lic.valid_to.isoformat()}")
    if draw.on > lic.valid_to:
        return DrawRefusal.expired, (
            f"{name} expired on {lic.valid_to.isoformat()}; the draw is dated "
            f"{draw.on.isoformat()}")
    left_quantity = lic.max_quantity - drawn_quantity
    if draw.quantity > left_quantity:
        return DrawRefusal.quantity_exhausted, (
            f"{name} has {max(left_quantity, 0)} of {lic.max_quantity} units left; the "
            f"draw {draw.reference} needs {draw.quantity}")
    left_value = lic.max_value - drawn_value
    if draw.value > left_value:
        return DrawRefusal.value_exhausted, (
            f"{name} has {format_amount(max(left_value, 0), lic.currency)} of "
            f"{format_amount(lic.max_value, lic.currency)} {lic.currency} left; the draw "
            f"{draw.reference} is worth {format_amount(draw.value, lic.currency)} "
            f"{lic.currency}")
    return None
