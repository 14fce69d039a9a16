"""Ledger use cases: post transfers, read balances, export.

`post_transfers` is the one way into the ledger. It keeps SPEC §3 invariants 2 and 5
for a batch as a whole: every transfer is well formed and posts in its agreement's
currency (the one its earlier transfers use); an id already posted with the same
content is dropped, with other content the batch is refused naming the id; a reversal
exactly mirrors the transfer it undoes, which it may undo only once. A refused batch
leaves nothing behind. The new transfers' canonical documents are appended to the log
as one batch of consecutive leaves under one signed checkpoint, and each row records
its leaf. The caller owns the transaction: nothing here commits.

The usual batch is all new; it is written first and the primary key tells whether
some id was taken (then the rows are rolled back to a savepoint and the batch is
sorted out id by id), which saves a look-up of every id on the hot path.

A `transfer` leaf keeps no text of its own: the row renders it (store.ledger), so the
transfer is written once, and editing an amount in the database makes the rendered text
miss the stored leaf hash: `verify` names that leaf.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from dronedeal.core.canonical import canonical_json
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.core.ledger import (
    LEAF_KIND,
    REVERSAL,
    Account,
    Transfer,
    assert_balanced,
    batch_problems,
    leaf_texts_of,
    reversal_problems,
    transfer_fields,
    triage,
)
from dronedeal.core.money import format_amount
from dronedeal.core.netting import ProposedPayment, settle
from dronedeal.core.note import NoteSigner
from dronedeal.services import audit
from dronedeal.store import ledger as store
from dronedeal.store import log

#: the `file` of the row errors a refused batch reports; rows count from 1 in the batch
SOURCE: Final = "ledger"
#: the most transfers one call posts (one log batch, one checkpoint)
MAX_BATCH: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class PostResult:
    """What a `post_transfers` call did."""

    posted: int
    #: transfers dropped because the same id with the same content was already posted
    duplicates: int
    #: leaf of the first new transfer (the rest follow it), None when none was new
    first_leaf: int | None
    tree_size: int
    root: bytes


def post_transfers(
    session: Session,
    transfers: Sequence[Transfer],
    signer: NoteSigner,
    *,
    currencies: Mapping[str, str] | None = None,
) -> PostResult:
    """Post a batch of transfers atomically and idempotently; raise RefusedError on any
    problem, writing nothing. `currencies` (agreement id → currency) pins currencies the
    caller knows; otherwise an agreement's first posted transfer sets its currency."""
    assert len(transfers) <= MAX_BATCH, f"post at most {MAX_BATCH} transfers at a time"
    errors: list[RowError] = []
    expected = dict(currencies or {})
    for agreement_id, currency in store.agreement_currencies(
            session, {t.agreement_id for t in transfers} - expected.keys()).items():
        expected[agreement_id] = currency
    for transfer in transfers:
        expected.setdefault(transfer.agreement_id, transfer.currency)
    errors.extend(RowError(SOURCE, position + 1, column, message)
                  for position, column, message in batch_problems(transfers, expected))
    if errors:
        raise RefusedError(errors)
    if transfers and all(t.reverses is None for t in transfers):
        fast = _post_all_new(session, transfers, signer)
        if fast is not None:
            return fast

    wanted = {t.transfer_id for t in transfers}
    wanted.update(t.reverses for t in transfers if t.reverses is not None)
    posted = store.posted_transfers(session, wanted)
    sorted_batch = triage(transfers, posted)
    errors.extend(RowError(SOURCE, position + 1, "transfer_id", str(error))
                  for position, error in sorted_batch.conflicts)
    new = sorted_batch.new
    errors.extend(_reversal_errors(session, transfers, new, posted))
    if errors:
        raise RefusedError(sorted(errors))

    if not new:
        size_only = audit.append_leaves(session, [], signer)
        return PostResult(0, len(sorted_batch.duplicates), None, size_only.tree_size,
                          size_only.root)
    appended = audit.append_leaves(session, leaf_texts(new), signer)
    assert appended.tree_size - appended.first_index == len(new), "one leaf per transfer"
    store.insert_transfers(session, new, appended.first_index)
    return PostResult(len(new), len(sorted_batch.duplicates), appended.first_index,
                      appended.tree_size, appended.root)


def _post_all_new(
    session: Session, transfers: Sequence[Transfer], signer: NoteSigner
) -> PostResult | None:
    """The lane for a batch of new transfers (the usual case): write the rows first and
    let the primary key say whether any id was taken, instead of looking every id up.
    None when one was: the rows are rolled back and the caller sorts the batch out."""
    log.lock_for_append(session)
    first_leaf = log.tree_size(session)
    tiles = log.edge_tiles(session, first_leaf)
    grown: list[tuple[list[tuple[str, str]], audit.Growth]] = []

    def prepare(rows: store.Rows) -> None:
        # `post_transfers` found no batch_problems in these transfers
        leaves = [(LEAF_KIND, text) for text in leaf_texts_of(rows, checked=True)]
        grown.append((leaves, audit.grow(first_leaf, tiles, audit.leaf_hashes(leaves),
                                         signer)))

    # the leaves are written and hashed, the tree grown and the checkpoint signed after
    # the rows are sent and before the database answers (PostgreSQL's COPY runs in its
    # own process); on a conflict they go unused
    if not store.insert_if_new(session, transfers, first_leaf, meanwhile=prepare):
        return None
    # the append lock is held since before the size was read, so nobody got in between
    leaves, growth = grown[0]
    appended = audit.write_growth(session, growth,
                                  lambda size: log.insert_leaves(session, size, leaves))
    assert appended.first_index == first_leaf, "the rows name the leaves that hold them"
    assert appended.tree_size == first_leaf + len(transfers), "one leaf per transfer"
    return PostResult(len(transfers), 0, first_leaf, appended.tree_size, appended.root)


def leaf_texts(transfers: Sequence[Transfer]) -> list[tuple[str, str]]:
    """The `(kind, canonical JSON)` log leaves of `transfers`."""
    return [(LEAF_KIND, text) for text in leaf_texts_of(list(map(transfer_fields, transfers)))]


def _reversal_errors(
    session: Session,
    batch: Sequence[Transfer],
    new: Sequence[Transfer],
    posted: Mapping[str, Transfer],
) -> list[RowError]:
    reversals = [t for t in new if t.kind == REVERSAL]
    if not reversals:
        return []
    position_of = {id(t): position for position, t in enumerate(batch)}
    in_batch = {t.transfer_id: t for t in new}
    undone = store.reversals_of(session, [t.reverses for t in reversals if t.reverses])
    errors: list[RowError] = []
    for reversal in reversals:
        row = position_of[id(reversal)] + 1
        assert reversal.reverses is not None
        original = posted.get(reversal.reverses) or in_batch.get(reversal.reverses)
        if original is None:
            errors.append(RowError(SOURCE, row, "reverses", (
                f"reversal {reversal.transfer_id} undoes transfer {reversal.reverses}, which "
                "was never posted; name a posted transfer")))
            continue
        errors.extend(RowError(SOURCE, row, "reverses", problem)
                      for problem in reversal_problems(reversal, original))
        earlier = undone.get(reversal.reverses)
        if earlier is not None and earlier != reversal.transfer_id:
            errors.append(RowError(SOURCE, row, "reverses", (
                f"transfer {reversal.reverses} was already reversed by {earlier}; "
                "a transfer is reversed at most once")))
        undone.setdefault(reversal.reverses, reversal.transfer_id)
    return errors


# -- reading -----------------------------------------------------------------------


def balances(
    session: Session, agreement_id: str, as_of: dt.date | None = None
) -> dict[str, int]:
    """Each party's balance (credits − debits, minor units of the agreement currency) from
    transfers dated on or before `as_of`; parties without a transfer are left out."""
    accounts = store.account_balances(session, agreement_id, as_of)
    assert_balanced(accounts)
    assert len({a.currency for a in accounts}) <= 1, (
        f"agreement {agreement_id} posts in one currency")
    return {account.party_id: balance for account, balance in sorted(accounts.items())}


def agreement_currency(session: Session, agreement_id: str) -> str | None:
    """The currency agreement `agreement_id` posts in, None before its first transfer."""
    return store.agreement_currencies(session, [agreement_id]).get(agreement_id)


def settlement(
    session: Session, agreement_id: str, as_of: dt.date | None = None
) -> list[ProposedPayment]:
    """The settlement proposal (SPEC §5): at most n−1 payments that zero every balance."""
    return settle(balances(session, agreement_id, as_of))


# -- export ------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^A-Za-z0-9]+")
#: the Beancount account of party P in agreement A is ROOT:<A>:<P>
ROOT: Final = "Assets:Deal"


def account_component(identifier: str) -> str:
    """An id as a Beancount account component: split at every run of characters other
    than letters and digits, capitalize each piece's first letter, join (`ua-us-2025` →
    `UaUs2025`, `us-dod` → `UsDod`)."""
    pieces = [piece for piece in _NOT_ALNUM.split(identifier) if piece]
    name = "".join(piece[0].upper() + piece[1:] for piece in pieces)
    return name or "X" + _hash_suffix(identifier)


def _hash_suffix(identifier: str) -> str:
    return hashlib.sha256(identifier.encode()).hexdigest()[:8]


def account_names(identifiers: Iterable[str]) -> dict[str, str]:
    """Components for a set of ids, one-to-one: ids whose components would coincide
    each get `-<first 8 hex digits of SHA-256 of the id>` appended."""
    unique = sorted(set(identifiers))
    by_component: dict[str, list[str]] = {}
    for identifier in unique:
        by_component.setdefault(account_component(identifier), []).append(identifier)
    names: dict[str, str] = {}
    for component, members in by_component.items():
        for identifier in members:
            names[identifier] = (component if len(members) == 1
                                 else f"{component}-{_hash_suffix(identifier)}")
    assert len(set(names.values())) == len(names), "account names are one-to-one"
    return names


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Accounts:
    """Beancount account names of the accounts of an export."""

    def __init__(self, accounts: Iterable[Account]) -> None:
        accounts = list(accounts)
        self.agreements = account_names(a.agreement_id for a in accounts)
        self.parties: dict[str, dict[str, str]] = {}
        for agreement_id in self.agreements:
            self.parties[agreement_id] = account_names(
                a.party_id for a in accounts if a.agreement_id == agreement_id)

    def name(self, agreement_id: str, party_id: str) -> str:
        return (f"{ROOT}:{self.agreements[agreement_id]}:"
                f"{self.parties[agreement_id][party_id]}")


def export_beancount(session: Session, agreement_id: str | None = None) -> Iterator[str]:
    """The ledger (or one agreement's) as one Beancount file, streamed in chunks of text.

    One `open` per account, one transaction per transfer in log order (the debit leg
    positive, the credit leg negative), then a `balance` assertion per account the day
    after the last transfer: Beancount's balance of an account is the negation of ours,
    and `bean-check` verifies that it matches.
    """
    openings = store.account_openings(session, agreement_id)
    ours = store.account_balances(session, agreement_id)
    assert_balanced(ours)
    names = _Accounts(openings)
    scope = f"agreement {agreement_id}" if agreement_id else "all agreements"
    yield (
        f"; dronedeal ledger export ({scope})\n"
        "; Each account is Assets:Deal:<agreement>:<party>; a transfer debits (+) the debit\n"
        "; party and credits (-) the credit party, so an account's Beancount balance is\n"
        "; the negation of dronedeal's balance (credits - debits): positive here means\n"
        "; the party owes, negative that it is owed. See docs/ledger.md.\n"
        'option "title" "dronedeal ledger"\n'
    )
    for currency in sorted({account.currency for account in openings}):
        yield f'option "operating_currency" "{currency}"\n'
    yield "\n"
    for account, opened in sorted(openings.items(), key=lambda item: (item[1], item[0])):
        yield (f"{opened.isoformat()} open {names.name(account.agreement_id, account.party_id)}"
               f" {account.currency}\n"
               f"  agreement_id: {_quote(account.agreement_id)}\n"
               f"  party_id: {_quote(account.party_id)}\n")
    yield "\n"
    last_day: dt.date | None = None
    chunk: list[str] = []
    for transfer, leaf_index in store.stream_transfers(session, agreement_id):
        chunk.append(_transaction(transfer, leaf_index, names))
        if last_day is None or transfer.event_date > last_day:
            last_day = transfer.event_date
        if len(chunk) >= 1_000:
            yield "".join(chunk)
            chunk = []
    if chunk:
        yield "".join(chunk)
    if last_day is None:
        return
    check_day = (last_day + dt.timedelta(days=1)).isoformat()
    yield "\n; dronedeal's balances, negated (see above); bean-check asserts them\n"
    for account, balance in sorted(ours.items()):
        yield (f"{check_day} balance {names.name(account.agreement_id, account.party_id)}  "
               f"{format_amount(-balance, account.currency)} {account.currency}\n")


def _transaction(transfer: Transfer, leaf_index: int, names: _Accounts) -> str:
    amount = format_amount(transfer.amount, transfer.currency)
    lines = [
        f"{transfer.event_date.isoformat()} * "
        f"{_quote(f'{transfer.kind} {transfer.transfer_id}')}",
        f"  transfer_id: {_quote(transfer.transfer_id)}",
        f"  kind: {_quote(transfer.kind)}",
        f"  reference: {_quote(transfer.reference)}",
        f"  original_amount: "
        f"{_quote(format_amount(transfer.original_amount, transfer.original_currency))}",
        f"  original_currency: {_quote(transfer.original_currency)}",
        f"  leaf_index: {leaf_index}",
    ]
    if transfer.reverses is not None:
        lines.append(f"  reverses: {_quote(transfer.reverses)}")
    lines.append(f"  {names.name(transfer.agreement_id, transfer.debit_party)}  "
                 f"{amount} {transfer.currency}")
    lines.append(f"  {names.name(transfer.agreement_id, transfer.credit_party)}  "
                 f"-{amount} {transfer.currency}")
    return "\n".join(lines) + "\n\n"


def export_jsonl(session: Session, agreement_id: str | None = None) -> Iterator[str]:
    """Every transfer (or one agreement's) in log order as JSON lines: its canonical
    document with its `leaf_index`."""
    for transfer, leaf_index in store.stream_transfers(session, agreement_id):
        yield canonical_json({**transfer.document(), "leaf_index": leaf_index}) + "\n"
