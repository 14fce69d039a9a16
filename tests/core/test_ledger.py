"""The pure ledger: transfers, balances, reversals, idempotency, posting rules, netting."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from dronedeal.core.canonical import canonical_json
from dronedeal.core.fx import MissingRateError, RateTable
from dronedeal.core.ledger import (
    ACCEPTANCE,
    PAYMENT,
    REVERSAL,
    TRANSFER_KINDS,
    Account,
    ConflictError,
    Transfer,
    accept_lot,
    acceptance_transfer,
    assert_balanced,
    balances,
    batch_problems,
    case_delivery_transfer,
    check_transfer,
    is_duplicate,
    leaf_texts_of,
    payment_transfer,
    reversal_problems,
    reverse,
    totals_by_agreement,
    transfer_fields,
    transfer_problems,
    triage,
)
from dronedeal.core.netting import ProposedPayment, apply, settle
from dronedeal.core.records import Agreement, Contribution, Flow, Fund, FxRate, Order

D = dt.date
AGREEMENTS = {"ua-us-2025": "USD", "dk-ua": "DKK", "jp-x": "JPY"}
PARTIES = ["us-dod", "ua-mod", "ua-maker-1", "ua-maker-2", "us-maker", "urif", "dk-mod"]


def make_transfer(transfer_id: str = "t1", *, amount: int = 70_000, debit: str = "us-dod",
                  credit: str = "ua-maker-1", kind: str = ACCEPTANCE,
                  on: dt.date = dt.date(2025, 9, 1), reverses: str | None = None) -> Transfer:
    return Transfer(transfer_id, "ua-us-2025", kind, debit, credit, amount, "USD",
                    amount * 40, "UAH", on, "lot:L1", reverses)


@st.composite
def transfers(draw: st.DrawFn, ids: st.SearchStrategy[str] | None = None) -> Transfer:
    agreement_id = draw(st.sampled_from(sorted(AGREEMENTS)))
    debit, credit = draw(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=2,
                                  unique=True))
    kind = draw(st.sampled_from([k for k in TRANSFER_KINDS if k != REVERSAL]))
    return Transfer(
        transfer_id=draw(ids) if ids is not None else draw(st.from_regex(
            r"[A-Za-z0-9._:/@-]{1,40}", fullmatch=True)),
        agreement_id=agreement_id,
        kind=kind,
        debit_party=debit,
        credit_party=credit,
        amount=draw(st.integers(1, 10**15)),
        currency=AGREEMENTS[agreement_id],
        original_amount=draw(st.integers(1, 10**15)),
        original_currency=draw(st.sampled_from(["USD", "UAH", "EUR", "KWD", "JPY"])),
        event_date=draw(st.dates(D(2025, 1, 1), D(2028, 12, 31))),
        reference=draw(st.text(min_size=1, max_size=30)),
    )


def ledgers() -> st.SearchStrategy[list[Transfer]]:
    ids = st.integers(0, 10**9).map(lambda n: f"t{n}")
    return st.lists(transfers(ids), max_size=60, unique_by=lambda t: t.transfer_id)


def nonzero(accounts: dict[Account, int]) -> dict[Account, int]:
    return {account: balance for account, balance in accounts.items() if balance}


# --- documents -------------------------------------------------------------------------


@given(transfers(), st.none() | st.from_regex(r"[a-z0-9:]{1,20}", fullmatch=True))
def test_leaf_text_is_the_canonical_json_of_the_leaf(transfer: Transfer,
                                                    reverses: str | None) -> None:
    if reverses is not None:
        transfer = replace(transfer, kind=REVERSAL, reverses=reverses)
    text = transfer.leaf_text()
    assert text == canonical_json(transfer.leaf())
    assert text.encode() == rfc8785.dumps(transfer.leaf())


@given(st.lists(transfers(st.one_of(st.from_regex(r"[A-Za-z0-9._:/@-]{1,12}", fullmatch=True),
                                    st.text(min_size=1, max_size=8))), max_size=8),
       st.booleans())
def test_a_batch_of_leaf_texts_is_each_transfers_leaf_text(batch: list[Transfer],
                                                          odd: bool) -> None:
    """The batch lane writes exactly what `leaf_text` writes, also for ids JSON must
    escape, other currencies' digits, reversals and negative amounts (lane refused)."""
    if odd and batch:
        batch[0] = replace(batch[0], kind=REVERSAL, reverses='t"1', amount=-5,
                           debit_party="a\nb")
    expected = [transfer.leaf_text() for transfer in batch]
    assert leaf_texts_of([transfer_fields(t) for t in batch]) == expected
    # rows as the database gives them back: the date as ISO text, the leaf index after
    assert leaf_texts_of([(*transfer_fields(t)[:9], t.event_date.isoformat(), t.reference,
                           t.reverses, 7) for t in batch]) == expected


@given(st.lists(transfers(), max_size=8), st.booleans())
def test_the_checked_lane_writes_what_leaf_text_writes_for_every_batch_that_may_post(
        batch: list[Transfer], stored: bool) -> None:
    """`checked=True` skips the name scan for transfers `batch_problems` passed (the
    posting path); references JSON must escape and currencies of other digits (JPY, KWD)
    still come out exactly as `leaf_text` writes them."""
    assert batch_problems(batch, AGREEMENTS) == []
    rows = [(*transfer_fields(t)[:9], t.event_date.isoformat() if stored else t.event_date,
             t.reference, t.reverses, 11) for t in batch]
    assert leaf_texts_of(rows, checked=True) == [t.leaf_text() for t in batch]


def test_the_batch_lane_quotes_plain_names_as_the_encoder_would() -> None:
    batch = [make_transfer(f"acc:L{i}:2025-09-0{i}", amount=i * 101) for i in range(1, 7)]
    assert leaf_texts_of(list(map(transfer_fields, batch))) == [t.leaf_text() for t in batch]
    assert leaf_texts_of([]) == []


def test_document_writes_amounts_as_decimal_strings_with_the_currency_digits() -> None:
    transfer = Transfer("acc:L1:2025-09-01", "ua-us-2025", ACCEPTANCE, "us-dod", "ua-maker-1",
                        70_000, "USD", 2_800_000, "UAH", D(2025, 9, 1), "lot:L1")
    assert transfer.document() == {
        "transfer_id": "acc:L1:2025-09-01", "agreement_id": "ua-us-2025", "kind": "acceptance",
        "debit_party": "us-dod", "credit_party": "ua-maker-1", "amount": "700.00",
        "currency": "USD", "original_amount": "28000.00", "original_currency": "UAH",
        "event_date": "2025-09-01", "reference": "lot:L1", "reverses": None}
    assert transfer.leaf()["kind"] == "transfer"


# --- validation ------------------------------------------------------------------------


def test_a_sound_transfer_has_no_problems() -> None:
    assert transfer_problems(make_transfer(), "USD") == []


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"amount": 0}, "amount", "must be positive"),
        ({"amount": -5}, "amount", "must be positive"),
        ({"amount": 2**63}, "amount", "larger than the ledger holds"),
        ({"original_amount": 0}, "original_amount", "must be positive"),
        ({"credit_party": "us-dod"}, "credit_party", "debits and credits the same party"),
        ({"currency": "EUR"}, "currency", "posts in USD"),
        ({"currency": "XXX"}, "currency", "not an ISO 4217"),
        ({"transfer_id": "bad id"}, "transfer_id", "must be 1 to 128"),
        ({"transfer_id": "x" * 129}, "transfer_id", "must be 1 to 128"),
        ({"debit_party": "a b"}, "debit_party", "is not an id"),
        ({"kind": "gift"}, "kind", "is not one of"),
        ({"kind": REVERSAL}, "reverses", "names the transfer it reverses"),
        ({"reverses": "t0"}, "reverses", "names the transfer it reverses"),
        ({"kind": REVERSAL, "reverses": "t1"}, "reverses", "cannot reverse itself"),
        ({"reference": ""}, "reference", "name the source event"),
    ],
)
def test_invalid_transfers_are_refused_with_a_sentence(
    changes: dict[str, Any], field: str, words: str
) -> None:
    transfer = replace(make_transfer(), **changes)
    problems = transfer_problems(transfer, "USD")
    assert any(name == field and words in message for name, message in problems), problems
    with pytest.raises(ValueError, match=words):
        check_transfer(transfer, "USD")


CORRUPTIONS: list[dict[str, Any]] = [
    {"amount": 0}, {"amount": -1}, {"amount": True}, {"amount": 2**63},
    {"original_amount": 0}, {"credit_party": "us-dod", "debit_party": "us-dod"},
    {"transfer_id": "a\nb"}, {"transfer_id": "a b"}, {"transfer_id": ""},
    {"agreement_id": "x" * 65}, {"currency": "XXX"}, {"currency": "EUR"},
    {"original_currency": "usd"}, {"event_date": dt.datetime(2025, 9, 1, 12)},
    {"reference": ""}, {"reference": "r" * 256}, {"kind": "gift"}, {"kind": REVERSAL},
    {"reverses": "t0"}, {"kind": REVERSAL, "reverses": "other"},
]


@given(ledgers(), st.lists(st.tuples(st.integers(0, 59), st.sampled_from(CORRUPTIONS)),
                           max_size=3))
def test_batch_validation_finds_exactly_what_one_by_one_validation_finds(
    ledger: list[Transfer], corruptions: list[tuple[int, dict[str, Any]]]
) -> None:
    batch = list(ledger)
    for position, changes in corruptions:
        if position < len(batch):
            batch[position] = replace(batch[position], **changes)
    one_by_one = [(position, name, message) for position, t in enumerate(batch)
                  for name, message in transfer_problems(t, AGREEMENTS.get(t.agreement_id))]
    assert batch_problems(batch, AGREEMENTS) == one_by_one
    if not corruptions or not batch:
        assert one_by_one == []


# --- balances ----------------------------------------------------------------------------


@given(ledgers())
def test_balances_of_every_agreement_sum_to_zero_in_every_currency(ledger: list[Transfer]) -> None:
    accounts = balances(ledger)
    assert all(total == 0 for total in totals_by_agreement(accounts).values())
    # and each balance is credits − debits
    expected: defaultdict[Account, int] = defaultdict(int)
    for t in ledger:
        expected[t.credit_account] += t.amount
        expected[t.debit_account] -= t.amount
    assert accounts == dict(expected)


@given(ledgers(), st.dates(D(2025, 1, 1), D(2028, 12, 31)))
def test_balances_as_of_count_only_transfers_on_or_before_the_date(
    ledger: list[Transfer], as_of: dt.date
) -> None:
    assert balances(ledger, as_of) == balances([t for t in ledger if t.event_date <= as_of])


def test_an_unbalanced_set_of_accounts_fails_the_assertion() -> None:
    with pytest.raises(AssertionError, match="sum to 5 USD, not 0"):
        assert_balanced({Account("a", "p", "USD"): 5})


def test_the_posting_example_of_the_spec() -> None:
    ledger = [
        make_transfer("acc", amount=70_000, debit="us-dod", credit="ua-maker-1"),
        make_transfer("fund", amount=3_500, debit="us-dod", credit="urif"),
        make_transfer("pay", amount=50_000, debit="ua-maker-1", credit="us-dod", kind=PAYMENT),
    ]
    assert nonzero(balances(ledger)) == {
        Account("ua-us-2025", "us-dod", "USD"): -23_500,
        Account("ua-us-2025", "ua-maker-1", "USD"): 20_000,
        Account("ua-us-2025", "urif", "USD"): 3_500,
    }


# --- reversals ---------------------------------------------------------------------------


@given(ledgers(), st.data())
def test_reversing_a_transfer_restores_the_balances(ledger: list[Transfer],
                                                    data: st.DataObject) -> None:
    if not ledger:
        return
    victim = data.draw(st.sampled_from(ledger))
    later = data.draw(st.dates(victim.event_date, D(2029, 12, 31)))
    reversal = reverse(victim, f"rev:{victim.transfer_id}", later)
    assert reversal.kind == REVERSAL
    assert reversal.reverses == victim.transfer_id
    assert reversal_problems(reversal, victim) == []
    without = [t for t in ledger if t is not victim]
    assert nonzero(balances([*ledger, reversal])) == nonzero(balances(without))
    # before the reversal's date the original still counts
    if later > victim.event_date:
        day_before = later - dt.timedelta(days=1)
        assert balances([*ledger, reversal], day_before) == balances(ledger, day_before)


def test_a_reversal_cannot_predate_its_transfer() -> None:
    with pytest.raises(ValueError, match="cannot be dated 2025-08-31"):
        reverse(make_transfer(), "rev", D(2025, 8, 31))


def test_a_reversal_that_does_not_mirror_is_named() -> None:
    original = make_transfer()
    wrong = replace(reverse(original, "rev", D(2025, 9, 2)), amount=1)
    assert reversal_problems(wrong, original) == [
        "reversal rev of t1 must swap its parties and repeat its amounts exactly"]


# --- idempotency -----------------------------------------------------------------------


@given(transfers())
def test_same_id_same_content_is_a_no_op(transfer: Transfer) -> None:
    copy = replace(transfer)
    assert is_duplicate(None, transfer) is False
    assert is_duplicate(transfer, copy) is True
    result = triage([copy, copy], {transfer.transfer_id: transfer})
    assert result.new == ()
    assert result.duplicates == (transfer.transfer_id, transfer.transfer_id)


@given(transfers(), st.integers(1, 10**6))
def test_same_id_different_content_is_refused_naming_the_id(transfer: Transfer,
                                                            bump: int) -> None:
    changed = replace(transfer, amount=transfer.amount + bump)
    with pytest.raises(ConflictError) as info:
        is_duplicate(transfer, changed)
    assert info.value.transfer_id == transfer.transfer_id
    assert f"transfer {transfer.transfer_id} was already posted with different content" in str(
        info.value)
    assert "amount" in str(info.value)


def test_triage_sorts_a_batch_and_catches_repeats_within_it() -> None:
    a, b, c = make_transfer("a"), make_transfer("b"), make_transfer("c")
    b2 = make_transfer("b", amount=1)
    c2 = make_transfer("c", amount=2)
    result = triage([a, b, c, c, c2, b2], {"b": b})
    assert result.new == (a, c)
    assert result.duplicates == ("b", "c")
    assert [(position, error.transfer_id) for position, error in result.conflicts] == [
        (4, "c"), (5, "b")]


# --- posting rules -----------------------------------------------------------------------

FLOWS = (
    Flow("drones-to-us", "us-dod", "us-dod", "UA", True, ("uas.*",), ()),
    Flow("weapons-to-ua", "ua-mod", "ua-mod", "US", False, ("*",), ()),
)
AGREEMENT = Agreement(
    "ua-us-2025", "Ukraine–United States drone deal", "USD", 3_000_000_000_000,
    D(2025, 8, 1), D(2028, 12, 31), FLOWS,
    Fund("urif", (Contribution("drones-to-us", "us-dod", Decimal("0.05")),)),
)
RATES = RateTable([
    FxRate(D(2025, 8, 1), "UAH", "USD", Decimal("0.024")),
    FxRate(D(2025, 9, 1), "UAH", "USD", Decimal("0.0241")),
    FxRate(D(2025, 8, 1), "USD", "UAH", Decimal("41.5")),  # not used: UAH->USD is direct
    FxRate(D(2025, 8, 1), "EUR", "USD", Decimal("1.17")),
])


def order(order_id: str, unit_price: int, *, currency: str = "UAH", supplier: str = "ua-maker-1",
          buyer: str = "us-dod", flow: str = "drones-to-us") -> Order:
    return Order(order_id, "ua-us-2025", flow, buyer, supplier, "p1", 100, unit_price,
                 currency, D(2026, 1, 31))


def test_acceptance_sums_the_lot_then_converts_once() -> None:
    # 3 units at 333.33 UAH on 2025-09-02 (rate 0.0241): 999.99 UAH -> 24.099759 -> 24.10 USD
    # (converting each unit, 8.033253 -> 8.03, would give 24.09)
    transfers_ = accept_lot(agreement=AGREEMENT, lot_id="L1", inspected_on=D(2025, 9, 2),
                            accepted=[(order("o1", 33_333), 3)], rates=RATES)
    acceptance, fund = transfers_
    assert acceptance == Transfer(
        "acc:L1:2025-09-02", "ua-us-2025", "acceptance", "us-dod", "ua-maker-1", 2_410, "USD",
        99_999, "UAH", D(2025, 9, 2), "lot:L1")
    # fund: 5% of 24.10 = 1.205 -> half-even 1.20
    assert fund == Transfer(
        "fund:L1:2025-09-02", "ua-us-2025", "fund_contribution", "us-dod", "urif", 120, "USD",
        120, "USD", D(2025, 9, 2), "lot:L1")


def test_acceptance_of_a_lot_spanning_two_orders_of_one_buyer_and_supplier() -> None:
    accepted = [(order("o1", 10_000), 2), (order("o2", 5_000), 1)]
    transfer = acceptance_transfer(agreement=AGREEMENT, lot_id="L2", inspected_on=D(2025, 8, 5),
                                   accepted=accepted, rates=RATES)
    assert transfer is not None
    assert transfer.original_amount == 25_000  # 250.00 UAH
    assert transfer.amount == 600  # x 0.024 = 6.00 USD


def test_a_lot_mixing_suppliers_is_refused() -> None:
    accepted = [(order("o1", 10_000), 2), (order("o2", 5_000, supplier="ua-maker-2"), 1)]
    with pytest.raises(ValueError, match="lot L3 mixes orders o1 and o2"):
        acceptance_transfer(agreement=AGREEMENT, lot_id="L3", inspected_on=D(2025, 8, 5),
                            accepted=accepted, rates=RATES)


def test_a_missing_rate_refuses_the_posting() -> None:
    with pytest.raises(MissingRateError,
                       match="no UAH→USD rate on or before 2025-07-31; add one to fx_rates"):
        accept_lot(agreement=AGREEMENT, lot_id="L1", inspected_on=D(2025, 7, 31),
                   accepted=[(order("o1", 100), 1)], rates=RATES)


def test_flows_without_a_contribution_post_no_fund_transfer() -> None:
    accepted = [(order("o9", 10_000, currency="USD", supplier="us-maker", buyer="ua-mod",
                       flow="weapons-to-ua"), 4)]
    transfers_ = accept_lot(agreement=AGREEMENT, lot_id="W1", inspected_on=D(2025, 8, 5),
                            accepted=accepted, rates=RATES)
    assert [t.transfer_id for t in transfers_] == ["acc:W1:2025-08-05"]
    assert transfers_[0].amount == 40_000
    assert transfers_[0].original_currency == "USD"


def test_case_delivery_posts_quantity_times_unit_price() -> None:
    transfer = case_delivery_transfer(
        agreement=AGREEMENT, delivery_id="D7", buyer_id="ua-mod", seller_id="us-maker",
        quantity=3, unit_price=1_000_005, currency="EUR", delivered_on=D(2025, 10, 1),
        rates=RATES)
    # 3 x 10,000.05 EUR = 30,000.15 EUR x 1.17 = 35,100.1755 USD -> 35,100.18
    assert transfer == Transfer("cd:D7", "ua-us-2025", "case_delivery", "ua-mod", "us-maker",
                                3_510_018, "USD", 3_000_015, "EUR", D(2025, 10, 1),
                                "case_delivery:D7")


def test_payment_debits_the_payee_and_credits_the_payer() -> None:
    transfer = payment_transfer(agreement=AGREEMENT, payment_id="P1", payer_id="us-dod",
                                payee_id="ua-maker-1", amount=50_000, currency="USD",
                                paid_on=D(2025, 11, 1), rates=RATES)
    assert transfer is not None
    assert (transfer.transfer_id, transfer.debit_party, transfer.credit_party) == (
        "pay:P1", "ua-maker-1", "us-dod")
    # in a EUR agreement, 100.00 USD: USD->EUR is only known as EUR->USD 1.17, so divide
    eur = payment_transfer(agreement=replace(AGREEMENT, currency="EUR"), payment_id="P2",
                           payer_id="us-dod", payee_id="ua-maker-1", amount=10_000,
                           currency="USD", paid_on=D(2025, 11, 1), rates=RATES)
    assert eur is not None
    assert eur.amount == 8_547  # 100 / 1.17 = 85.470085… -> 85.47


def half_even(value: Decimal) -> int:
    with localcontext() as ctx:
        ctx.prec = 100
        return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@given(st.lists(st.tuples(st.integers(1, 10**7), st.integers(1, 1_000)), min_size=1,
                max_size=5),
       st.decimals(Decimal("0.000001"), Decimal("1000"), places=6))
def test_acceptance_equals_a_direct_decimal_computation(
    lines: list[tuple[int, int]], rate: Decimal
) -> None:
    rates = RateTable([FxRate(D(2025, 1, 1), "UAH", "USD", rate)])
    accepted = [(order(f"o{i}", price), units) for i, (price, units) in enumerate(lines)]
    transfers_ = accept_lot(agreement=AGREEMENT, lot_id="L", inspected_on=D(2025, 3, 1),
                            accepted=accepted, rates=rates)
    with localcontext() as ctx:
        ctx.prec = 100
        original = sum((Decimal(price) * units for price, units in lines), Decimal(0)) / 100
        expected = half_even(original * rate * 100)
        expected_fund = half_even(Decimal(expected) * Decimal("0.05"))
    if expected == 0:
        assert transfers_ == []
        return
    assert transfers_[0].amount == expected
    assert transfers_[0].original_amount == sum(price * units for price, units in lines)
    if expected_fund:
        assert transfers_[1].amount == expected_fund
    else:
        assert len(transfers_) == 1


# --- netting -----------------------------------------------------------------------------


@st.composite
def balanced(draw: st.DrawFn) -> dict[str, int]:
    parties = draw(st.lists(st.from_regex(r"[a-z]{1,6}", fullmatch=True), min_size=1,
                            max_size=25, unique=True))
    values = draw(st.lists(st.integers(-10**12, 10**12), min_size=len(parties) - 1,
                           max_size=len(parties) - 1))
    values.append(-sum(values))
    return dict(zip(parties, values, strict=True))


@settings(max_examples=300)
@given(balanced())
def test_settlement_zeroes_every_balance_with_at_most_n_minus_one_payments(
    accounts: dict[str, int]
) -> None:
    payments = settle(accounts)
    n = sum(1 for balance in accounts.values() if balance)
    assert len(payments) <= max(n - 1, 0)
    assert all(value == 0 for value in apply(accounts, payments).values())
    for payment in payments:
        assert payment.amount > 0
        assert accounts[payment.payer_id] < 0 < accounts[payment.payee_id]
    assert settle(dict(reversed(list(accounts.items())))) == payments  # order-independent


def test_settlement_is_greedy_with_ties_broken_by_party_id() -> None:
    accounts = {"us-dod": -23_500, "ua-maker-2": 10_000, "ua-maker-1": 10_000, "urif": 3_500}
    assert settle(accounts) == [
        ProposedPayment("us-dod", "ua-maker-1", 10_000),
        ProposedPayment("us-dod", "ua-maker-2", 10_000),
        ProposedPayment("us-dod", "urif", 3_500),
    ]
    assert settle({"a": 0, "b": 0}) == []


def test_unbalanced_input_cannot_be_settled() -> None:
    with pytest.raises(ValueError, match="balances sum to 1, not 0"):
        settle({"a": 1})


def test_the_worked_example_of_docs_ledger_md() -> None:
    transfers_ = [
        *accept_lot(agreement=AGREEMENT, lot_id="L1", inspected_on=D(2025, 9, 2),
                    accepted=[(order("O-1", 3_333_333), 3)], rates=RATES),
        case_delivery_transfer(agreement=AGREEMENT, delivery_id="D1", buyer_id="ua-mod",
                               seller_id="us-maker", quantity=2, unit_price=100_000,
                               currency="USD", delivered_on=D(2025, 9, 10), rates=RATES),
        payment_transfer(agreement=AGREEMENT, payment_id="P1", payer_id="us-dod",
                         payee_id="ua-maker-1", amount=200_000, currency="USD",
                         paid_on=D(2025, 10, 1), rates=RATES),
    ]
    posted = [t for t in transfers_ if t is not None]
    assert [(t.transfer_id, t.amount) for t in posted] == [
        ("acc:L1:2025-09-02", 241_000), ("fund:L1:2025-09-02", 12_050), ("cd:D1", 200_000),
        ("pay:P1", 200_000)]
    by_party = {a.party_id: b for a, b in balances(posted).items()}
    assert by_party == {"ua-maker-1": 41_000, "us-dod": -53_050, "urif": 12_050,
                        "ua-mod": -200_000, "us-maker": 200_000}
    assert settle(by_party) == [ProposedPayment("ua-mod", "us-maker", 200_000),
                                ProposedPayment("us-dod", "ua-maker-1", 41_000),
                                ProposedPayment("us-dod", "urif", 12_050)]
