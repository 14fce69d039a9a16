"""The double-entry ledger of a deal: accounts, transfers, balances and posting rules.

One account per (agreement, party, currency). A transfer moves one positive amount, in
its agreement's currency, from the debit party's account to the credit party's account
on its event date; a party's balance is its credits minus its debits, so a positive
balance means the party is owed and a negative one that it owes (SPEC §5).

Invariants kept here (and asserted where they are relied on):

- every transfer balances: it has exactly two legs of the same amount, `amount > 0`,
  `debit_party != credit_party`; hence the balances of an agreement sum to 0 in every
  currency, after any set of transfers;
- transfers are immutable; a correction is a new `reversal` transfer that mirrors the
  one it reverses, so that the two together leave every balance as before;
- the transfer id is chosen by the client and derived from the source event
  (`acc:<lot>:<date>`, `fund:<lot>:<date>`, `cd:<delivery>`, `pay:<payment>`): posting
  the same id with the same content again is a no-op, with different content an error;
- an amount converted from another currency is computed in the source currency first,
  then converted once at the rate of the event date and rounded half-even; the
  transfer keeps the original amount and currency.

Standard library only; no I/O.
"""

from __future__ import annotations

import datetime as dt
import json
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any, Final

from dronedeal.core.fx import RateTable
from dronedeal.core.iso import CURRENCY_DIGITS
from dronedeal.core.money import format_amount, share_of
from dronedeal.core.records import Agreement, Order

#: the `kind` of a transfer's log leaf
LEAF_KIND: Final = "transfer"
ACCEPTANCE: Final = "acceptance"
FUND_CONTRIBUTION: Final = "fund_contribution"
CASE_DELIVERY: Final = "case_delivery"
PAYMENT: Final = "payment"
REVERSAL: Final = "reversal"
TRANSFER_KINDS: Final = (ACCEPTANCE, FUND_CONTRIBUTION, CASE_DELIVERY, PAYMENT, REVERSAL)

#: the largest amount a BigInteger column holds
MAX_AMOUNT: Final = 2**63 - 1
MAX_TRANSFER_ID: Final = 128
MAX_REFERENCE: Final = 255

_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_TRANSFER_ID = re.compile(r"[A-Za-z0-9._:/@-]{1,128}")


@dataclass(frozen=True, slots=True, order=True)
class Account:
    """One party's account in one agreement and currency."""

    agreement_id: str
    party_id: str
    currency: str


@dataclass(frozen=True, slots=True)
class Transfer:
    """One balanced movement of `amount` from `debit_party` to `credit_party`.

    `amount` and `original_amount` are minor units of `currency` (the agreement's) and
    `original_currency` (the source event's); `reference` names the source event;
    `reverses` is the id of the transfer a `reversal` undoes.
    """

    transfer_id: str
    agreement_id: str
    kind: str
    debit_party: str
    credit_party: str
    amount: int
    currency: str
    original_amount: int
    original_currency: str
    event_date: dt.date
    reference: str
    reverses: str | None = None

    @property
    def debit_account(self) -> Account:
        return Account(self.agreement_id, self.debit_party, self.currency)

    @property
    def credit_account(self) -> Account:
        return Account(self.agreement_id, self.credit_party, self.currency)

    def document(self) -> dict[str, Any]:
        """The JSON-ready form: amounts as decimal strings, the date ISO."""
        return {
            "transfer_id": self.transfer_id,
            "agreement_id": self.agreement_id,
            "kind": self.kind,
            "debit_party": self.debit_party,
            "credit_party": self.credit_party,
            "amount": format_amount(self.amount, self.currency),
            "currency": self.currency,
            "original_amount": format_amount(self.original_amount, self.original_currency),
            "original_currency": self.original_currency,
            "event_date": self.event_date.isoformat(),
            "reference": self.reference,
            "reverses": self.reverses,
        }

    def leaf(self) -> dict[str, Any]:
        """The log leaf: `{"kind": "transfer", "transfer": document}`."""
        return {"kind": LEAF_KIND, "transfer": self.document()}

    def leaf_text(self) -> str:
        """`canonical_json(self.leaf())`, built directly: the posting path's fast lane."""
        return leaf_text_of((
            self.transfer_id, self.agreement_id, self.kind, self.debit_party,
            self.credit_party, self.amount, self.currency, self.original_amount,
            self.original_currency, self.event_date.isoformat(), self.reference, self.reverses))


def leaf_text_of(fields: Sequence[Any]) -> str:
    """The canonical leaf of a transfer given as its fields in `TRANSFER_FIELDS` order,
    `event_date` as ISO text: a stored row is checked against its leaf without first
    building a Transfer.

    Keys are written in code-point order and strings escaped by the same encoder as
    `canonical_json`; the test suite checks the two agree on arbitrary transfers.
    """
    (transfer_id, agreement_id, kind, debit_party, credit_party, amount, currency,
     original_amount, original_currency, event_date, reference, reverses) = fields
    s = _string
    reversed_id = "null" if reverses is None else s(reverses)
    return (
        f'{{"kind":"transfer","transfer":{{"agreement_id":{s(agreement_id)},'
        f'"amount":"{_amount_text(amount, currency)}",'
        f'"credit_party":{s(credit_party)},"currency":{s(currency)},'
        f'"debit_party":{s(debit_party)},"event_date":"{event_date}","kind":{s(kind)},'
        f'"original_amount":"{_amount_text(original_amount, original_currency)}",'
        f'"original_currency":{s(original_currency)},"reference":{s(reference)},'
        f'"reverses":{reversed_id},"transfer_id":{s(transfer_id)}}}}}'
    )


def leaf_texts_of(rows: Sequence[Sequence[Any]], *, checked: bool = False) -> list[str]:
    """`[leaf_text_of(row) for row in rows]` (transfers as their fields in
    `TRANSFER_FIELDS` order, `event_date` a date or its ISO text, later columns ignored)
    at a fraction of the cost, for the posting path and `verify`: when every id, kind and
    currency of the batch holds only characters JSON writes as they are (checked once
    for the whole batch, at C speed), they are quoted without the encoder; each date is
    formatted once; amounts of two-digit currencies inline.

    `checked`: the caller found no `batch_problems` in these transfers, so their ids,
    kinds and currencies are known plain and their amounts positive integers, and only
    the currencies' minor digits are looked at (the posting path; a stored row, which
    anyone may have changed, is never `checked`)."""
    if len(rows) < _FEW:  # the batch checks cost more than they save
        return _one_by_one(rows)
    if not (_cents_only(rows) if checked else _plain(rows)):
        return _one_by_one(rows)
    s = _string
    cents = _CENTS
    days: dict[Any, str] = {}
    texts = []
    for (transfer_id, agreement_id, kind, debit_party, credit_party, amount, currency,
         original, original_currency, event_date, reference, reverses, *_) in rows:
        day = days.get(event_date)
        if day is None:
            day = days[event_date] = (event_date if isinstance(event_date, str)
                                      else event_date.isoformat())
        texts.append(
            f'{{"kind":"transfer","transfer":{{"agreement_id":"{agreement_id}",'
            f'"amount":"{amount // 100}.{cents[amount % 100]}",'
            f'"credit_party":"{credit_party}","currency":"{currency}",'
            f'"debit_party":"{debit_party}","event_date":"{day}","kind":"{kind}",'
            f'"original_amount":"{original // 100}.{cents[original % 100]}",'
            f'"original_currency":"{original_currency}","reference":{s(reference)},'
            f'"reverses":{"null" if reverses is None else s(reverses)},'
            f'"transfer_id":"{transfer_id}"}}}}')
    return texts


#: below this many rows `leaf_texts_of` writes each with `leaf_text_of` (a proof's one leaf)
_FEW = 4


def _plain(rows: Sequence[Sequence[Any]]) -> bool:
    """Whether `leaf_texts_of`'s inline lane writes these rows exactly: every name plain
    text of characters JSON writes as they are, amounts non-negative integers, every
    currency one of two minor digits."""
    try:
        names = "\n".join(["\n".join(_NAMES(row)) for row in rows])
    except TypeError:  # a field that is no text: the one-by-one path says what it makes
        return False
    amounts = [row[5] for row in rows] + [row[7] for row in rows]
    return bool(names.count("\n") == 7 * len(rows) - 1  # no name spans two lines
                and _PLAIN_NAMES.fullmatch(names) and set(map(type, amounts)) == {int}
                and min(amounts) >= 0 and _cents_only(rows))


def _cents_only(rows: Sequence[Sequence[Any]]) -> bool:
    """Every currency and original currency of the rows has two minor digits."""
    currencies = {row[6] for row in rows} | {row[8] for row in rows}
    return all(CURRENCY_DIGITS.get(c) == 2 for c in currencies)


def _one_by_one(rows: Sequence[Sequence[Any]]) -> list[str]:
    return [leaf_text_of((*row[:9], row[9] if isinstance(row[9], str) else row[9].isoformat(),
                          *row[10:12])) for row in rows]


#: the names of a transfer row: ids, kind, currencies
_NAMES = operator.itemgetter(0, 1, 2, 3, 4, 6, 8)


# The standard library's C string encoder, as used by canonical_json (ensure_ascii off).
_string = json.encoder.encode_basestring
#: names that JSON writes as they are (no quote, backslash or control character), one a
#: line
_PLAIN_NAMES = re.compile(r"[A-Za-z0-9._:/@ -]*(?:\n[A-Za-z0-9._:/@ -]*)*")


_CENTS = tuple(f"{cents:02d}" for cents in range(100))


def _amount_text(minor: int, currency: str) -> str:
    """`format_amount`, with a fast lane for positive amounts in two-digit currencies."""
    if minor >= 0 and CURRENCY_DIGITS.get(currency) == 2:
        whole, cents = divmod(minor, 100)
        return f"{whole}.{_CENTS[cents]}"
    return format_amount(minor, currency)


def _amount_problem(value: object, name: str) -> str | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return f"{name} must be an integer of minor units"
    if value <= 0:
        return f"{name} must be positive; a correction is a reversing transfer"
    if value > MAX_AMOUNT:
        return f"{name} is larger than the ledger holds ({MAX_AMOUNT} minor units)"
    return None


_KINDS = frozenset(TRANSFER_KINDS)
_TRANSFER_ID_LINES = re.compile(r"(?:[A-Za-z0-9._:/@-]{1,128}\n)*")


def batch_problems(
    transfers: Sequence[Transfer], currencies: Mapping[str, str]
) -> list[tuple[int, str, str]]:
    """Every problem of a batch as (position, field, sentence); empty when all may post.

    `currencies` maps each agreement of the batch to the currency it posts in. The whole
    batch is first checked column by column with built-ins that run at C speed; only
    when that finds something does each transfer go through `transfer_problems`.
    """
    if _columns_sound(transfers, currencies):
        return []
    return [(position, name, message) for position, transfer in enumerate(transfers)
            for name, message in transfer_problems(transfer, currencies.get(
                transfer.agreement_id))]


def _columns_sound(transfers: Sequence[Transfer], currencies: Mapping[str, str]) -> bool:
    """True only when `transfer_problems` would find nothing in any transfer."""
    if not transfers:
        return True
    try:
        ids = "\n".join([t.transfer_id for t in transfers]) + "\n"
        references = [t.reference for t in transfers]
        reference_lengths = list(map(len, references))
    except TypeError:
        return False
    agreements = [t.agreement_id for t in transfers]
    debits = [t.debit_party for t in transfers]
    credits = [t.credit_party for t in transfers]
    amounts = [t.amount for t in transfers]
    originals = [t.original_amount for t in transfers]
    kinds = {t.kind for t in transfers}
    names = {*agreements, *debits, *credits}
    return bool(
        ids.count("\n") == len(transfers) and _TRANSFER_ID_LINES.fullmatch(ids)
        and all(isinstance(name, str) and _ID.fullmatch(name) for name in names)
        and not any(map(operator.eq, debits, credits))
        and set(map(type, amounts)) == {int} and min(amounts) > 0 and max(amounts) <= MAX_AMOUNT
        and set(map(type, originals)) == {int} and min(originals) > 0
        and max(originals) <= MAX_AMOUNT
        and all(currencies.get(agreement) == currency and currency in CURRENCY_DIGITS
                for agreement, currency in {(t.agreement_id, t.currency) for t in transfers})
        and {t.original_currency for t in transfers} <= CURRENCY_DIGITS.keys()
        and {type(t.event_date) for t in transfers} == {dt.date}
        and set(map(type, references)) == {str}
        and min(reference_lengths) > 0 and max(reference_lengths) <= MAX_REFERENCE
        and kinds <= _KINDS and REVERSAL not in kinds
        and [t.reverses for t in transfers].count(None) == len(transfers)
    )


def transfer_problems(
    transfer: Transfer, agreement_currency: str | None = None
) -> list[tuple[str, str]]:
    """Every problem of one transfer as (field, sentence); empty when it may be posted.

    `agreement_currency`, when given, is the currency the transfer must post in.
    """
    problems: list[tuple[str, str]] = []
    if not _TRANSFER_ID.fullmatch(transfer.transfer_id):
        problems.append(("transfer_id", f"transfer id {transfer.transfer_id!r} must be 1 to "
                         f"{MAX_TRANSFER_ID} of A-Z a-z 0-9 . _ : / @ -"))
    for name in ("agreement_id", "debit_party", "credit_party"):
        value = getattr(transfer, name)
        if not (isinstance(value, str) and _ID.fullmatch(value)):
            problems.append((name, f"{name} {value!r} is not an id of 1 to 64 of "
                             "A-Z a-z 0-9 . _ : -"))
    if transfer.kind not in TRANSFER_KINDS:
        problems.append(("kind", f"kind {transfer.kind!r} is not one of "
                         + ", ".join(TRANSFER_KINDS)))
    if transfer.debit_party == transfer.credit_party:
        problems.append(("credit_party", f"transfer {transfer.transfer_id} debits and credits "
                         f"the same party {transfer.debit_party}; a transfer moves value "
                         "between two parties"))
    for name in ("amount", "original_amount"):
        problem = _amount_problem(getattr(transfer, name), name)
        if problem:
            problems.append((name, problem))
    for name in ("currency", "original_currency"):
        if getattr(transfer, name) not in CURRENCY_DIGITS:
            problems.append((name, f"{name} {getattr(transfer, name)!r} is not an ISO 4217 "
                             "currency with minor units"))
    if agreement_currency is not None and transfer.currency != agreement_currency:
        problems.append(("currency", f"transfer {transfer.transfer_id} is in "
                         f"{transfer.currency} but agreement {transfer.agreement_id} posts "
                         f"in {agreement_currency}; convert it at the event date's rate"))
    if not isinstance(transfer.event_date, dt.date) or isinstance(transfer.event_date,
                                                                  dt.datetime):
        problems.append(("event_date", "event_date must be a date"))
    if not transfer.reference or len(transfer.reference) > MAX_REFERENCE:
        problems.append(("reference", f"reference must name the source event in 1 to "
                         f"{MAX_REFERENCE} characters"))
    if (transfer.kind == REVERSAL) != (transfer.reverses is not None):
        problems.append(("reverses", "a reversal names the transfer it reverses, and only a "
                         "reversal does"))
    elif transfer.reverses == transfer.transfer_id:
        problems.append(("reverses", f"transfer {transfer.transfer_id} cannot reverse itself"))
    return problems


def check_transfer(transfer: Transfer, agreement_currency: str | None = None) -> None:
    """Raise ValueError with every problem of `transfer`."""
    problems = transfer_problems(transfer, agreement_currency)
    if problems:
        raise ValueError("; ".join(message for _field, message in problems))


# --- balances ------------------------------------------------------------------------


def balances(transfers: Iterable[Transfer], as_of: dt.date | None = None) -> dict[Account, int]:
    """Credits minus debits per account, counting transfers dated on or before `as_of`."""
    totals: defaultdict[Account, int] = defaultdict(int)
    for transfer in transfers:
        assert transfer.amount > 0, f"transfer {transfer.transfer_id} moves no value"
        assert transfer.debit_party != transfer.credit_party, (
            f"transfer {transfer.transfer_id} debits and credits one party"
        )
        if as_of is not None and transfer.event_date > as_of:
            continue
        totals[transfer.credit_account] += transfer.amount
        totals[transfer.debit_account] -= transfer.amount
    result = dict(totals)
    assert_balanced(result)
    return result


def totals_by_agreement(accounts: Mapping[Account, int]) -> dict[tuple[str, str], int]:
    """The sum of all balances per (agreement, currency); zero in a sound ledger."""
    sums: defaultdict[tuple[str, str], int] = defaultdict(int)
    for account, balance in accounts.items():
        sums[(account.agreement_id, account.currency)] += balance
    return dict(sums)


def assert_balanced(accounts: Mapping[Account, int]) -> None:
    """Assert invariant 2: the balances of every agreement sum to 0 in every currency."""
    for (agreement_id, currency), total in totals_by_agreement(accounts).items():
        assert total == 0, (
            f"balances of agreement {agreement_id} sum to {total} {currency}, not 0"
        )


# --- corrections -----------------------------------------------------------------------


def reverse(transfer: Transfer, new_id: str, on: dt.date, reference: str | None = None) -> Transfer:
    """The transfer that undoes `transfer`: same amounts, legs swapped, dated `on`."""
    if on < transfer.event_date:
        raise ValueError(f"a reversal of {transfer.transfer_id} cannot be dated {on.isoformat()}, "
                         f"before the transfer ({transfer.event_date.isoformat()})")
    reversal = Transfer(
        transfer_id=new_id,
        agreement_id=transfer.agreement_id,
        kind=REVERSAL,
        debit_party=transfer.credit_party,
        credit_party=transfer.debit_party,
        amount=transfer.amount,
        currency=transfer.currency,
        original_amount=transfer.original_amount,
        original_currency=transfer.original_currency,
        event_date=on,
        reference=reference or transfer.reference,
        reverses=transfer.transfer_id,
    )
    assert not reversal_problems(reversal, transfer)
    return reversal


def reversal_problems(reversal: Transfer, original: Transfer) -> list[str]:
    """Why `reversal` does not exactly undo `original` (empty when it does)."""
    problems: list[str] = []
    name = f"reversal {reversal.transfer_id} of {original.transfer_id}"
    if reversal.reverses != original.transfer_id:
        problems.append(f"{name} names {reversal.reverses} as the transfer it reverses")
    mirrored = (
        reversal.agreement_id == original.agreement_id
        and reversal.debit_party == original.credit_party
        and reversal.credit_party == original.debit_party
        and reversal.amount == original.amount
        and reversal.currency == original.currency
        and reversal.original_amount == original.original_amount
        and reversal.original_currency == original.original_currency
    )
    if not mirrored:
        problems.append(f"{name} must swap its parties and repeat its amounts exactly")
    if reversal.event_date < original.event_date:
        problems.append(f"{name} is dated before the transfer it reverses")
    return problems


# --- idempotency -----------------------------------------------------------------------


class ConflictError(ValueError):
    """A transfer id already posted with different content."""

    def __init__(self, posted: Transfer, offered: Transfer) -> None:
        self.transfer_id = posted.transfer_id
        old, new = posted.document(), offered.document()
        changed = [f"{key} {old[key]} posted, {new[key]} now"
                   for key in old if old[key] != new[key]]
        super().__init__(
            f"transfer {posted.transfer_id} was already posted with different content ("
            + "; ".join(changed) + "); a posted transfer never changes: post a reversal "
            "and a new transfer with a new id instead"
        )


def is_duplicate(posted: Transfer | None, offered: Transfer) -> bool:
    """The idempotency rule: True when `offered` was already posted exactly as is.

    False when its id is new; raises ConflictError (naming the id) when the id was
    posted with different content.
    """
    if posted is None:
        return False
    assert posted.transfer_id == offered.transfer_id
    if posted == offered:
        return True
    raise ConflictError(posted, offered)


@dataclass(frozen=True, slots=True)
class Triage:
    """A batch sorted by the idempotency rule."""

    new: tuple[Transfer, ...]
    duplicates: tuple[str, ...]
    conflicts: tuple[tuple[int, ConflictError], ...]  # (position in the batch, error)


def triage(offered: Sequence[Transfer], posted: Mapping[str, Transfer]) -> Triage:
    """Split a batch into new transfers, exact duplicates and conflicts.

    A transfer repeated within the batch counts like one already posted.
    """
    new: list[Transfer] = []
    duplicates: list[str] = []
    conflicts: list[tuple[int, ConflictError]] = []
    in_batch: dict[str, Transfer] = {}
    for position, transfer in enumerate(offered):
        earlier = posted.get(transfer.transfer_id) or in_batch.get(transfer.transfer_id)
        try:
            duplicate = is_duplicate(earlier, transfer)
        except ConflictError as error:
            conflicts.append((position, error))
            continue
        if duplicate:
            duplicates.append(transfer.transfer_id)
        else:
            in_batch[transfer.transfer_id] = transfer
            new.append(transfer)
    assert len(new) + len(duplicates) + len(conflicts) == len(offered)
    return Triage(tuple(new), tuple(duplicates), tuple(conflicts))


# --- posting rules (SPEC §5) -----------------------------------------------------------


def acceptance_transfer_id(lot_id: str, inspected_on: dt.date) -> str:
    return f"acc:{lot_id}:{inspected_on.isoformat()}"


def fund_transfer_id(lot_id: str, inspected_on: dt.date, position: int = 0) -> str:
    """`fund:<lot>:<date>` for an agreement's first contribution on a flow, then `…:<n>`."""
    base = f"fund:{lot_id}:{inspected_on.isoformat()}"
    return base if position == 0 else f"{base}:{position + 1}"


def case_delivery_transfer_id(delivery_id: str) -> str:
    return f"cd:{delivery_id}"


def payment_transfer_id(payment_id: str) -> str:
    return f"pay:{payment_id}"


def acceptance_transfer(
    *,
    agreement: Agreement,
    lot_id: str,
    inspected_on: dt.date,
    accepted: Sequence[tuple[Order, int]],
    rates: RateTable,
) -> Transfer | None:
    """The transfer for a lot's units accepted on one date: buyer owes the supplier.

    `accepted` pairs each order of the lot with its units accepted that day. The value
    is Σ units × unit_price in the orders' currency, converted once at the rate of
    `inspected_on`. None when nothing of value was accepted.
    """
    assert accepted, f"lot {lot_id} has no accepted units on {inspected_on.isoformat()}"
    first = accepted[0][0]
    for order, units in accepted:
        assert units >= 0, f"order {order.order_id} has a negative unit count"
        if order.agreement_id != agreement.agreement_id:
            raise ValueError(f"order {order.order_id} of lot {lot_id} belongs to agreement "
                             f"{order.agreement_id}, not {agreement.agreement_id}")
        if (order.buyer_id, order.supplier_id, order.currency, order.flow_id) != (
                first.buyer_id, first.supplier_id, first.currency, first.flow_id):
            raise ValueError(
                f"lot {lot_id} mixes orders {first.order_id} and {order.order_id} with "
                "different buyers, suppliers, flows or currencies; ship them in separate lots"
            )
    original = sum(units * order.unit_price for order, units in accepted)
    if original == 0:
        return None
    amount = rates.convert(original, first.currency, agreement.currency, inspected_on)
    if amount == 0:
        return None
    return Transfer(
        transfer_id=acceptance_transfer_id(lot_id, inspected_on),
        agreement_id=agreement.agreement_id,
        kind=ACCEPTANCE,
        debit_party=first.buyer_id,
        credit_party=first.supplier_id,
        amount=amount,
        currency=agreement.currency,
        original_amount=original,
        original_currency=first.currency,
        event_date=inspected_on,
        reference=f"lot:{lot_id}",
    )


def fund_transfers(
    *, agreement: Agreement, flow_id: str, lot_id: str, acceptance: Transfer
) -> list[Transfer]:
    """The fund contributions due on an acceptance in `flow_id`: payer owes the fund.

    Each is the contribution's share of the converted amount, half-even. It is computed
    in the agreement currency, so its original amount and currency are its own; the
    acceptance it follows keeps the source currency. A share that rounds to zero posts
    nothing.
    """
    assert acceptance.kind == ACCEPTANCE
    assert acceptance.transfer_id == acceptance_transfer_id(lot_id, acceptance.event_date)
    if agreement.fund is None:
        return []
    fund = agreement.fund
    transfers: list[Transfer] = []
    due = [c for c in fund.contributions if c.flow_id == flow_id]
    for position, contribution in enumerate(due):
        if not Decimal(0) < contribution.share <= 1:
            raise ValueError(f"fund share {contribution.share} of {contribution.payer_id} "
                             "must be above 0 and at most 1")
        if contribution.payer_id == fund.party_id:
            raise ValueError(f"fund {fund.party_id} cannot contribute to itself")
        amount = share_of(acceptance.amount, contribution.share)
        if amount == 0:
            continue
        transfers.append(Transfer(
            transfer_id=fund_transfer_id(lot_id, acceptance.event_date, position),
            agreement_id=agreement.agreement_id,
            kind=FUND_CONTRIBUTION,
            debit_party=contribution.payer_id,
            credit_party=fund.party_id,
            amount=amount,
            currency=agreement.currency,
            original_amount=amount,
            original_currency=agreement.currency,
            event_date=acceptance.event_date,
            reference=acceptance.reference,
        ))
    return transfers


def accept_lot(
    *,
    agreement: Agreement,
    lot_id: str,
    inspected_on: dt.date,
    accepted: Sequence[tuple[Order, int]],
    rates: RateTable,
) -> list[Transfer]:
    """The acceptance transfer of a lot on a date followed by its fund contributions."""
    acceptance = acceptance_transfer(agreement=agreement, lot_id=lot_id,
                                     inspected_on=inspected_on, accepted=accepted, rates=rates)
    if acceptance is None:
        return []
    return [acceptance, *fund_transfers(agreement=agreement, flow_id=accepted[0][0].flow_id,
                                        lot_id=lot_id, acceptance=acceptance)]


def case_delivery_transfer(
    *,
    agreement: Agreement,
    delivery_id: str,
    buyer_id: str,
    seller_id: str,
    quantity: int,
    unit_price: int,
    currency: str,
    delivered_on: dt.date,
    rates: RateTable,
) -> Transfer | None:
    """A case delivery: the case buyer owes the seller quantity × unit_price, converted once."""
    assert quantity >= 0, f"case delivery {delivery_id} has a negative quantity"
    assert unit_price >= 0, f"case delivery {delivery_id} has a negative unit price"
    original = quantity * unit_price
    if original == 0:
        return None
    amount = rates.convert(original, currency, agreement.currency, delivered_on)
    if amount == 0:
        return None
    return Transfer(
        transfer_id=case_delivery_transfer_id(delivery_id),
        agreement_id=agreement.agreement_id,
        kind=CASE_DELIVERY,
        debit_party=buyer_id,
        credit_party=seller_id,
        amount=amount,
        currency=agreement.currency,
        original_amount=original,
        original_currency=currency,
        event_date=delivered_on,
        reference=f"case_delivery:{delivery_id}",
    )


def payment_transfer(
    *,
    agreement: Agreement,
    payment_id: str,
    payer_id: str,
    payee_id: str,
    amount: int,
    currency: str,
    paid_on: dt.date,
    rates: RateTable,
) -> Transfer | None:
    """A payment: debit the payee (it is owed less), credit the payer (it owes less)."""
    assert amount > 0, f"payment {payment_id} must be positive"
    converted = rates.convert(amount, currency, agreement.currency, paid_on)
    if converted == 0:
        return None
    return Transfer(
        transfer_id=payment_transfer_id(payment_id),
        agreement_id=agreement.agreement_id,
        kind=PAYMENT,
        debit_party=payee_id,
        credit_party=payer_id,
        amount=converted,
        currency=agreement.currency,
        original_amount=amount,
        original_currency=currency,
        event_date=paid_on,
        reference=f"payment:{payment_id}",
    )


#: the fields of a transfer, in declaration order (the store's column order)
TRANSFER_FIELDS: Final = tuple(f.name for f in fields(Transfer))
#: a transfer's fields in `TRANSFER_FIELDS` order, as one tuple (for `leaf_texts_of`)
transfer_fields: Final = operator.attrgetter(*TRANSFER_FIELDS)
