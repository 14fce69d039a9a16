"""Drawing down export licenses, one draw or many, without ever over-drawing.

`draw_down_many` takes the draws of a whole import (many lots, many licenses), locks
every license involved (PostgreSQL `SELECT … FOR UPDATE` in id order; SQLite's
`BEGIN IMMEDIATE` transaction already holds the write lock), reads what each has drawn,
judges the draws in the order given against the running totals, and either writes them
all or refuses with every refusal and writes nothing. `draw_down` is the one-draw form.

A draw is identified by (license, reference): asking again for the same draw with the
same quantity, value and date is a no-op (a retried import), with anything different it
is refused. Services never commit: the caller owns the transaction, and the lock is
held until it ends, so two concurrent draw-downs are serial and the cap holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from dronedeal.core.licenses import Draw, DrawRefusal, Refusal, Remaining, judge_draw
from dronedeal.core.money import format_amount
from dronedeal.core.records import License
from dronedeal.store import compliance as store
from dronedeal.store.master import LicenseRow

#: draws per call; an import of more lots calls again within the same transaction
MAX_DRAWS = 1_000_000


class DrawdownRefusedError(Exception):
    """One or more draws were refused; nothing was drawn. Carries every refusal."""

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        assert refusals, "a refusal names at least one reason"
        self.refusals = list(refusals)
        more = f" (and {len(self.refusals) - 1} more)" if len(self.refusals) > 1 else ""
        super().__init__(f"{self.refusals[0].message}{more}")

    @property
    def reason(self) -> DrawRefusal:
        return self.refusals[0].reason


def _license(row: LicenseRow) -> License:
    return License(row.license_id, row.authority_country, row.exporter_id, row.end_user_id,
                   row.product_id, row.max_quantity, row.max_value, row.currency,
                   row.valid_from, row.valid_to)


def draw_down_many(session: Session, draws: Sequence[Draw]) -> dict[str, Remaining]:
    """Draw every one of `draws`, or none: DrawdownRefusedError lists each refused draw
    (its index in `draws`). Returns what is left on each license involved."""
    assert len(draws) <= MAX_DRAWS, f"at most {MAX_DRAWS} draws per call"
    licenses = {row.license_id: _license(row)
                for row in store.lock_licenses(session, (d.license_id for d in draws))}
    totals = dict(store.drawn_totals(session, licenses))
    stored = store.draws_by_reference(session, ((d.license_id, d.reference) for d in draws))
    refusals: list[Refusal] = []
    accepted: dict[tuple[str, str], Draw] = {}
    for index, draw in enumerate(draws):
        lic = licenses.get(draw.license_id)

        def refuse(reason: DrawRefusal, message: str, *, index: int = index,
                   draw: Draw = draw) -> None:
            refusals.append(Refusal(index, draw.license_id, draw.reference, reason, message))

        if lic is None:
            refuse(DrawRefusal.unknown_license,
                   f"no license {draw.license_id!r} in the store; import it first")
            continue
        key = (draw.license_id, draw.reference)
        earlier = stored.get(key)
        if earlier is not None:
            if (earlier.quantity, earlier.value, earlier.drawn_on) != (
                    draw.quantity, draw.value, draw.on):
                refuse(DrawRefusal.reference_conflict,
                       f"license {lic.license_id} already has draw {draw.reference} of "
                       f"{earlier.quantity} units worth "
                       f"{format_amount(earlier.value, lic.currency)} {lic.currency} on "
                       f"{earlier.drawn_on.isoformat()}; a different draw needs another "
                       "reference")
            continue  # the same draw again: already counted
        if key in accepted:
            if accepted[key] != draw:
                refuse(DrawRefusal.reference_conflict,
                       f"draw {draw.reference} on license {lic.license_id} is asked twice "
                       "with different amounts; give each draw its own reference")
            continue
        quantity, value = totals.get(lic.license_id, (0, 0))
        verdict = judge_draw(lic, draw, drawn_quantity=quantity, drawn_value=value)
        if verdict is not None:
            refuse(*verdict)
            continue
        totals[lic.license_id] = (quantity + draw.quantity, value + draw.value)
        accepted[key] = draw
    if refusals:
        raise DrawdownRefusedError(refusals)
    store.insert_draws(session, [
        {"license_id": d.license_id, "reference": d.reference, "quantity": d.quantity,
         "value": d.value, "currency": licenses[d.license_id].currency, "drawn_on": d.on}
        for d in accepted.values()])
    for license_id in {d.license_id for d in accepted.values()}:
        quantity, value = totals[license_id]
        lic = licenses[license_id]
        assert quantity <= lic.max_quantity, f"draws would over-draw {license_id}"
        assert value <= lic.max_value, f"draws would over-draw {license_id}"
    return {license_id: Remaining.of(lic, *totals.get(license_id, (0, 0)))
            for license_id, lic in sorted(licenses.items())}


def draw_down(
    session: Session, *, license_id: str, product_id: str, exporter_id: str,
    end_user_id: str, on: dt.date, quantity: int, value_minor: int, reference: str,
) -> Remaining:
    """Draw `quantity` units worth `value_minor` (license currency) for `reference` on
    `on`; DrawdownRefusedError with the reason (expired, not yet valid, wrong product,
    exporter or end user, quantity or value exhausted) otherwise."""
    draw = Draw(license_id, product_id, exporter_id, end_user_id, on, quantity, value_minor,
                reference)
    return draw_down_many(session, [draw])[license_id]


def remaining(session: Session, *, product_id: str | None = None) -> list[Remaining]:
    """What is left on every license (of one product), by license id."""
    rows = store.license_rows(session, product_id)
    totals = store.drawn_totals(session, [r.license_id for r in rows])
    return [Remaining.of(_license(r), *totals.get(r.license_id, (0, 0))) for r in rows]
