"""Settlement proposals: payments that bring every balance of an agreement to zero.

Input: each party's balance in one currency (credits − debits, positive = is owed),
summing to zero. Output: at most n − 1 payments for n parties with a non-zero balance,
each from a party that owes to a party that is owed, after which every balance is zero.
The rule is greedy and deterministic: the largest debtor pays the largest creditor as
much as both allow, ties broken by party id; every payment zeroes at least one party,
which bounds the count. Standard library only.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ProposedPayment:
    """`payer_id` pays `payee_id` `amount` minor units of the agreement currency."""

    payer_id: str
    payee_id: str
    amount: int


def settle(balances: Mapping[str, int]) -> list[ProposedPayment]:
    """The settlement proposal for `balances` (party id -> credits − debits)."""
    total = sum(balances.values())
    if total != 0:
        raise ValueError(f"balances sum to {total}, not 0; a ledger that balances settles")
    # heaps of (-abs(balance), party_id): the largest first, then the smallest id
    debtors = [(balance, party) for party, balance in balances.items() if balance < 0]
    creditors = [(-balance, party) for party, balance in balances.items() if balance > 0]
    heapq.heapify(debtors)
    heapq.heapify(creditors)
    parties = len(debtors) + len(creditors)
    payments: list[ProposedPayment] = []
    while debtors:
        assert creditors, "debts are left with nobody owed"
        assert len(payments) < max(parties - 1, 0), "settlement exceeds n - 1 payments"
        owes, debtor = heapq.heappop(debtors)
        owed, creditor = heapq.heappop(creditors)
        amount = min(-owes, -owed)
        assert amount > 0
        payments.append(ProposedPayment(debtor, creditor, amount))
        if owes + amount < 0:
            heapq.heappush(debtors, (owes + amount, debtor))
        if owed + amount < 0:
            heapq.heappush(creditors, (owed + amount, creditor))
    assert not creditors, "credits are left with nobody owing"
    assert len(payments) <= max(parties - 1, 0)
    return payments


def apply(balances: Mapping[str, int], payments: list[ProposedPayment]) -> dict[str, int]:
    """The balances after `payments` (a payment credits the payer and debits the payee)."""
    after = dict(balances)
    for payment in payments:
        after[payment.payer_id] = after.get(payment.payer_id, 0) + payment.amount
        after[payment.payee_id] = after.get(payment.payee_id, 0) - payment.amount
    return after
