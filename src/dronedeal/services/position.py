"""The position of an agreement and its settlement proposal as of a date (SPEC §5).

Per flow: ordered (orders and case lines, each converted at the rate on the agreement's
`signed_on`), shipped (shipments, plus case deliveries), accepted (accepted inspections,
plus case deliveries), rejected (rejected inspections), each per lot and event date
converted at that date's rate; paid (payments from the flow's buyer to parties of its
seller country, funds excepted, each converted at `paid_on`). Per party: the ledger
balance; per country: the net of its parties; the fund apart; ceiling used; the
reciprocity ratio. The settlement nets the ledger balances, the fund's included.
`balances_at` gives the balances at many dates (the dashboard's balance history) from
the ledger's per-day changes (`reports.balance_changes`), read once per session and log
state, each equal to what `ledger.balances` gives for that date; the position and the
settlement of the last of those dates reuse that read instead of reading the ledger
again.

Invariants: only events dated on or before `as_of` count, in every figure; amounts are
minor units of the agreement currency; the balances reported sum to zero (asserted in
`core.position.build_position`); a settlement has at most n − 1 payments and zeroes
every balance (asserted in `core.position.build_settlement`). Reads only; the caller
owns the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy.orm import Session

from dronedeal.core.fx import RateTable
from dronedeal.core.position import (
    FUND_KIND,
    AgreementTerms,
    Batch,
    BatchConverter,
    Figure,
    FlowFigures,
    Position,
    Settlement,
    build_position,
    build_settlement,
    totals_by_flow,
)
from dronedeal.core.records import Agreement
from dronedeal.services import ledger
from dronedeal.store import master, reports


class UnknownAgreementError(LookupError):
    """No agreement with the asked id is in the store."""

    def __init__(self, agreement_id: str, known: list[str]) -> None:
        self.agreement_id = agreement_id
        hint = ("known: " + ", ".join(known[:10]) + (" …" if len(known) > 10 else "")
                if known else "the store holds no agreement; import a pack first")
        super().__init__(f"no agreement {agreement_id!r} in the store ({hint})")


def load_agreement(*, session: Session, agreement_id: str) -> Agreement:
    """The stored agreement `agreement_id`; raises UnknownAgreementError."""
    agreement = master.load_agreement(session, agreement_id)
    if agreement is None:
        raise UnknownAgreementError(agreement_id, master.agreement_ids(session))
    return agreement


def _terms(agreement: Agreement) -> AgreementTerms:
    r = agreement.reciprocity
    return AgreementTerms(
        agreement_id=agreement.agreement_id, currency=agreement.currency,
        ceiling=agreement.ceiling, flow_ids=tuple(f.flow_id for f in agreement.flows),
        fund_party_id=agreement.fund.party_id if agreement.fund else None,
        reciprocity=(r.numerator_flow, r.denominator_flow, r.min_ratio) if r else None)


def _paid_batches(session: Session, agreement: Agreement, as_of: dt.date) -> list[Batch]:
    """Each payment that pays a flow: from its buyer to a non-fund party of its seller
    country. A payment can pay at most one flow per (buyer, seller country) pair."""
    batches: list[Batch] = []
    for payment in reports.payments(session, agreement.agreement_id, as_of):
        if payment.payee_kind == FUND_KIND:
            continue
        for flow in agreement.flows:
            if (payment.payer_id == flow.buyer_id
                    and payment.payee_country == flow.seller_country):
                batches.append(Batch(flow.flow_id, payment.paid_on, payment.currency, 0,
                                     payment.amount))
    return batches


def ceiling_used(*, session: Session, agreement: Agreement, rates: RateTable) -> int:
    """The ordered value of all flows (orders and case lines, each converted at the rate
    on `signed_on` and rounded, then summed), in minor units of the agreement currency."""
    a, on = agreement.agreement_id, agreement.signed_on
    batches = [*reports.order_batches(session, a, on), *reports.case_line_batches(session, a, on)]
    return sum(rates.convert(b.value, b.currency, agreement.currency, b.on) for b in batches)


def converter(session: Session) -> BatchConverter:
    """The store's FX rates as a `BatchConverter`, built once per session and log state
    (the figures of one page convert at the same rates)."""
    return reports.once_per_state(session, ("converter",), lambda: BatchConverter(
        RateTable(master.load_fx_rates(session))))


def flow_figures(
    *, session: Session, agreement: Agreement, as_of: dt.date,
    rates: RateTable | BatchConverter
) -> dict[str, FlowFigures]:
    """Ordered, shipped, accepted, rejected and paid of every flow, in the agreement
    currency; raises MissingRateError when an event's rate is unknown."""
    a, c = agreement.agreement_id, agreement.currency
    deliveries = reports.delivery_batches(session, a, as_of)
    units = reports.unit_batches(session, a, as_of)
    convert = rates if isinstance(rates, BatchConverter) else BatchConverter(rates)
    ordered = totals_by_flow([*reports.order_batches(session, a, agreement.signed_on),
                              *reports.case_line_batches(session, a, agreement.signed_on)],
                             convert, c)
    shipped = totals_by_flow([*units.shipped, *deliveries], convert, c)
    accepted = totals_by_flow([*units.accepted, *deliveries], convert, c)
    rejected = totals_by_flow(units.rejected, convert, c)
    paid = totals_by_flow(_paid_batches(session, agreement, as_of), convert, c)
    zero = Figure(0, 0)
    return {flow.flow_id: FlowFigures(
        ordered=ordered.get(flow.flow_id, zero), shipped=shipped.get(flow.flow_id, zero),
        accepted=accepted.get(flow.flow_id, zero), rejected=rejected.get(flow.flow_id, zero),
        paid=paid.get(flow.flow_id, zero).value) for flow in agreement.flows}


def balances_at(*, session: Session, agreement_id: str, days: Sequence[dt.date]
                ) -> list[dict[str, int]]:
    """The ledger balances of `agreement_id` as of each of `days` (ascending), each equal
    to `ledger.balances(session, agreement_id, day)`, from one read of the ledger (which
    the position of the last day reuses: see `_balances`)."""
    assert list(days) == sorted(days), "days come in ascending order"
    if not days:
        return []
    changes = _changes(session, agreement_id, days[-1])
    running: dict[str, int] = {}
    out: list[dict[str, int]] = []
    at = 0
    for day in days:
        while at < len(changes) and changes[at][0] <= day:
            _, party_id, change = changes[at]
            running[party_id] = running.get(party_id, 0) + change
            at += 1
        assert sum(running.values()) == 0, (
            f"balances of agreement {agreement_id} on {day.isoformat()} do not sum to 0")
        out.append(dict(sorted(running.items())))
    return out


def position(*, session: Session, agreement_id: str, as_of: dt.date) -> Position:
    """The position of `agreement_id` as of `as_of` (SPEC §5)."""
    agreement = load_agreement(session=session, agreement_id=agreement_id)
    figures = flow_figures(session=session, agreement=agreement, as_of=as_of,
                           rates=converter(session))
    balances = _balances(session, agreement_id, as_of)
    _check_currency(session, agreement)
    return build_position(terms=_terms(agreement), as_of=as_of, figures=figures,
                          balances=balances,
                          profiles=reports.party_profiles(session, balances))


def settlement(*, session: Session, agreement_id: str, as_of: dt.date) -> Settlement:
    """The settlement proposal of `agreement_id` as of `as_of` (SPEC §5)."""
    agreement = load_agreement(session=session, agreement_id=agreement_id)
    _check_currency(session, agreement)
    return build_settlement(agreement_id=agreement_id, as_of=as_of,
                            currency=agreement.currency,
                            balances=_balances(session, agreement_id, as_of))


def _changes(session: Session, agreement_id: str, as_of: dt.date
             ) -> list[tuple[dt.date, str, int]]:
    """`reports.balance_changes`, read once per session and log state."""
    return reports.once_per_state(session, ("balance_changes", agreement_id, as_of),
                                  lambda: reports.balance_changes(session, agreement_id, as_of))


def _balances(session: Session, agreement_id: str, as_of: dt.date) -> dict[str, int]:
    """The ledger balances as of `as_of`, once per session and log state: summed from
    the ledger's daily changes when this session has read them up to `as_of` already
    (the agreement page reads them first, for its balance history), else
    `ledger.balances` (one row per party). Either way the ledger is read once."""
    def compute() -> dict[str, int]:
        if reports.computed_per_state(session, ("balance_changes", agreement_id, as_of)):
            return balances_at(session=session, agreement_id=agreement_id, days=[as_of])[0]
        return ledger.balances(session, agreement_id, as_of)

    return reports.once_per_state(session, ("balances", agreement_id, as_of), compute)


def _check_currency(session: Session, agreement: Agreement) -> None:
    posted = ledger.agreement_currency(session, agreement.agreement_id)
    assert posted in (None, agreement.currency), (
        f"agreement {agreement.agreement_id} settles in {agreement.currency} but its "
        f"ledger posts in {posted}")
