"""The ledger on a real database (SQLite, or PostgreSQL with DRONEDEAL_TEST_DB): posting,
idempotency, reversals, balances by SQL, the verify hook, and the exports."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from beancount import loader
from beancount.core import realization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session
from tests.verifying import verified
from typer.testing import CliRunner

from dronedeal.core.errors import RefusedError
from dronedeal.core.ledger import (
    ACCEPTANCE,
    CASE_DELIVERY,
    FUND_CONTRIBUTION,
    PAYMENT,
    Account,
    Transfer,
    balances,
    reverse,
)
from dronedeal.core.money import format_amount
from dronedeal.core.netting import apply
from dronedeal.services import audit, keys
from dronedeal.services import ledger as service
from dronedeal.store import ledger as store
from dronedeal.store import log

D = dt.date


def t(transfer_id: str, debit: str, credit: str, amount: int, *, kind: str = ACCEPTANCE,
      agreement: str = "ua-us-2025", currency: str = "USD", on: dt.date = dt.date(2025, 9, 1),
      original: tuple[int, str] | None = None, reference: str = "lot:L1") -> Transfer:
    original_amount, original_currency = original or (amount, currency)
    return Transfer(transfer_id, agreement, kind, debit, credit, amount, currency,
                    original_amount, original_currency, on, reference)


#: the worked example of docs/ledger.md
EXAMPLE = [
    t("acc:L1:2025-09-02", "us-dod", "ua-maker-1", 70_000, on=D(2025, 9, 2),
      original=(2_904_564, "UAH")),
    t("fund:L1:2025-09-02", "us-dod", "urif", 3_500, kind=FUND_CONTRIBUTION, on=D(2025, 9, 2)),
    t("cd:D1", "ua-mod", "us-maker", 40_000, kind=CASE_DELIVERY, on=D(2025, 9, 10),
      reference="case_delivery:D1"),
    t("pay:P1", "ua-maker-1", "us-dod", 50_000, kind=PAYMENT, on=D(2025, 10, 1),
      reference="payment:P1"),
]


def post(engine: Engine, transfers: list[Transfer], signer: keys.Signer,
         **kwargs: object) -> service.PostResult:
    with Session(engine) as session, session.begin():
        return service.post_transfers(session, transfers, signer, **kwargs)  # type: ignore[arg-type]


def tree_size(engine: Engine) -> int:
    with Session(engine) as session:
        return log.tree_size(session)


# --- posting ---------------------------------------------------------------------------


def test_posting_stores_each_transfer_with_its_log_leaf(
    engine: Engine, signer: keys.Signer
) -> None:
    result = post(engine, EXAMPLE, signer)
    assert (result.posted, result.duplicates, result.first_leaf) == (4, 0, 0)
    assert result.tree_size == 4
    session = Session(engine)
    stored = list(store.stream_transfers(session))
    assert stored == [(transfer, index) for index, transfer in enumerate(EXAMPLE)]
    for transfer, index in stored:
        leaf = log.leaf_text(session, index)
        assert leaf == transfer.leaf_text()
        assert json.loads(leaf or "")["transfer"]["amount"] == format_amount(transfer.amount,
                                                                             "USD")
    assert log.checkpoint_count(session) == 1  # one batch, one checkpoint
    assert audit.verify(session, signer.vkey()).ok
    session.close()


def test_reposting_the_same_transfers_is_a_no_op(engine: Engine, signer: keys.Signer) -> None:
    post(engine, EXAMPLE, signer)
    again = post(engine, [*EXAMPLE, EXAMPLE[0]], signer)
    assert (again.posted, again.duplicates, again.first_leaf) == (0, 5, None)
    assert again.tree_size == tree_size(engine) == 4
    # a batch mixing old and new posts only the new one
    extra = t("pay:P2", "ua-maker-1", "us-dod", 1_000, kind=PAYMENT, reference="payment:P2")
    mixed = post(engine, [*EXAMPLE, extra], signer)
    assert (mixed.posted, mixed.duplicates, mixed.first_leaf, mixed.tree_size) == (1, 4, 4, 5)


def test_a_new_batch_repeating_an_id_posts_it_once(engine: Engine, signer: keys.Signer) -> None:
    result = post(engine, [EXAMPLE[0], EXAMPLE[1], EXAMPLE[0]], signer)
    assert (result.posted, result.duplicates, result.first_leaf, result.tree_size) == (
        2, 1, 0, 2)
    assert post(engine, [], signer).posted == 0
    with Session(engine) as session:
        assert [t for t, _ in store.stream_transfers(session)] == EXAMPLE[:2]
        assert audit.verify(session, signer.vkey()).ok


def test_same_id_with_different_content_is_refused_and_nothing_is_written(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    changed = replace(EXAMPLE[3], amount=50_001)
    fresh = t("pay:P9", "ua-maker-1", "us-dod", 1, kind=PAYMENT, reference="payment:P9")
    with pytest.raises(RefusedError) as info:
        post(engine, [fresh, changed], signer)
    (error,) = info.value.errors
    assert (error.file, error.row, error.column) == ("ledger", 2, "transfer_id")
    assert "transfer pay:P1 was already posted with different content" in error.message
    assert "amount 500.00 posted, 500.01 now" in error.message
    with Session(engine) as session:
        assert store.count_transfers(session) == 4
    assert tree_size(engine) == 4


def test_every_invalid_transfer_of_a_batch_is_reported_together(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    batch = [
        t("ok", "us-dod", "ua-maker-1", 100),
        t("zero", "us-dod", "ua-maker-1", 0),
        t("eur", "us-dod", "ua-maker-1", 100, currency="EUR"),
        t("self", "us-dod", "us-dod", 100),
    ]
    with pytest.raises(RefusedError) as info:
        post(engine, batch, signer)
    assert [(e.row, e.column) for e in info.value.errors] == [
        (2, "amount"), (2, "original_amount"), (3, "currency"), (4, "credit_party")]
    assert "agreement ua-us-2025 posts in USD" in info.value.errors[2].message
    assert tree_size(engine) == 4


def test_the_currency_an_agreement_posts_in_can_be_pinned(
    engine: Engine, signer: keys.Signer
) -> None:
    with pytest.raises(RefusedError, match="posts in EUR"):
        post(engine, EXAMPLE[:1], signer, currencies={"ua-us-2025": "EUR"})
    assert tree_size(engine) == 0


# --- reversals ---------------------------------------------------------------------------


def test_a_reversal_restores_the_balances_and_is_allowed_once(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    session = Session(engine)
    before = service.balances(session, "ua-us-2025")
    session.rollback()  # on SQLite every transaction holds the write lock (store.db)
    wrong = t("acc:L9:2025-09-03", "us-dod", "ua-maker-1", 99_000, on=D(2025, 9, 3))
    post(engine, [wrong], signer)
    reversal = reverse(wrong, "rev:acc:L9:2025-09-03", D(2025, 9, 20))
    post(engine, [reversal], signer)
    assert {p: b for p, b in service.balances(session, "ua-us-2025").items() if b} == before
    # as of a day before the reversal, the wrong transfer still counts
    as_of = service.balances(session, "ua-us-2025", D(2025, 9, 19))
    assert as_of["us-dod"] == -73_500 - 99_000
    session.rollback()
    with pytest.raises(RefusedError, match="was already reversed by rev:acc:L9:2025-09-03"):
        post(engine, [reverse(wrong, "rev2", D(2025, 9, 21))], signer)
    with pytest.raises(RefusedError, match="undoes transfer nope, which was never posted"):
        post(engine, [replace(reversal, transfer_id="rev3", reverses="nope")], signer)
    with pytest.raises(RefusedError, match="must swap its parties and repeat its amounts"):
        post(engine, [replace(reverse(EXAMPLE[2], "rev4", D(2025, 9, 21)), amount=1)], signer)
    # a transfer and its reversal may come in one batch
    slip = t("acc:L10:2025-09-04", "us-dod", "ua-maker-1", 5, on=D(2025, 9, 4))
    assert post(engine, [slip, reverse(slip, "rev:slip", D(2025, 9, 4))], signer).posted == 2


# --- balances by SQL -------------------------------------------------------------------

PARTIES = ["us-dod", "ua-mod", "ua-maker-1", "ua-maker-2", "us-maker", "urif"]
_agreements = itertools.count()


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(st.sampled_from(PARTIES), min_size=2, max_size=2,
                                   unique=True),
                          st.integers(1, 10**14), st.dates(D(2025, 1, 1), D(2025, 12, 31))),
                min_size=1, max_size=40),
       st.dates(D(2025, 1, 1), D(2025, 12, 31)))
def test_sql_balances_equal_the_pure_ones_and_sum_to_zero(
    engine: Engine, signer: keys.Signer,
    rows: list[tuple[list[str], int, dt.date]], as_of: dt.date
) -> None:
    agreement = f"prop-{next(_agreements)}"
    transfers = [t(f"{agreement}:{i}", debit, credit, amount, agreement=agreement, on=on)
                 for i, ((debit, credit), amount, on) in enumerate(rows)]
    post(engine, transfers, signer)
    with Session(engine) as session:
        for day in (None, as_of):
            ours = service.balances(session, agreement, day)
            pure = {a.party_id: b for a, b in balances(transfers, day).items()}
            assert ours == pure
            assert sum(ours.values()) == 0
            assert all(v == 0 for v in apply(ours, service.settlement(session, agreement,
                                                                      day)).values())


def test_balances_and_settlement_of_the_worked_example(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    session = Session(engine)
    assert service.balances(session, "ua-us-2025") == {
        "ua-maker-1": 20_000, "ua-mod": -40_000, "urif": 3_500, "us-dod": -23_500,
        "us-maker": 40_000}
    assert [(p.payer_id, p.payee_id, p.amount)
            for p in service.settlement(session, "ua-us-2025")] == [
        ("ua-mod", "us-maker", 40_000), ("us-dod", "ua-maker-1", 20_000),
        ("us-dod", "urif", 3_500)]
    assert service.balances(session, "ua-us-2025", D(2025, 9, 1)) == {}
    assert store.account_balances(session) == {
        Account("ua-us-2025", p, "USD"): b
        for p, b in service.balances(session, "ua-us-2025").items()}
    session.close()


# --- verify ------------------------------------------------------------------------------


def test_changing_an_amount_in_the_database_fails_verify_naming_the_leaf(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    with Session(engine) as session, session.begin():
        session.execute(update(store.TABLE).where(store.TABLE.c.transfer_id == "cd:D1")
                        .values(amount=40_001))
    report = verified(engine, signer.vkey())
    assert not report.ok
    assert report.first_bad_leaf == 2
    assert report.problem == ("leaf 2 (transfer): the ledger_transfer row that holds it "
                              "differs from what the log logged (its text no longer hashes "
                              "to the stored leaf hash)")


def test_a_deleted_transfer_row_fails_verify(engine: Engine, signer: keys.Signer) -> None:
    post(engine, EXAMPLE, signer)
    with Session(engine) as session, session.begin():
        session.execute(store.TABLE.delete().where(store.TABLE.c.transfer_id == "pay:P1"))
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 3
    assert report.problem is not None
    assert report.problem == "leaf 3 (transfer): no ledger_transfer row holds it"
    with Session(engine) as session, pytest.raises(log.MissingRowError, match="leaf 3"):
        audit.inclusion_proof(session, 3)
    with Session(engine) as session, pytest.raises(log.MissingRowError, match="leaf 3"):
        audit.inclusion_proofs(session, [0, 3])


def test_a_row_pointing_at_a_leaf_of_another_kind_fails_verify(
    engine: Engine, signer: keys.Signer
) -> None:
    with Session(engine) as session, session.begin():
        audit.append_leaves(session, [("party", '{"kind":"party"}')], signer)
    post(engine, EXAMPLE[:2], signer)
    with Session(engine) as session, session.begin():
        session.execute(update(store.TABLE).where(store.TABLE.c.leaf_index == 2)
                        .values(leaf_index=0))
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 0  # the row that names a party leaf is named first
    assert report.problem == ("leaf 0: a ledger_transfer row names it, but it holds a "
                              "party leaf")


def test_a_transfer_leaf_keeps_no_text_of_its_own(engine: Engine, signer: keys.Signer) -> None:
    """The row is the only copy; every reader renders the same text from it."""
    post(engine, EXAMPLE, signer)
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT idx, kind, leaf, last_idx FROM log_leaf")
                                    ).all()
    assert [tuple(row) for row in stored] == [(0, "transfer", None, len(EXAMPLE) - 1)]
    with Session(engine) as session:
        texts = [transfer.leaf_text() for transfer in EXAMPLE]
        assert [entry["leaf"] for entry in audit.entries(session)] == texts
        assert [audit.inclusion_proof(session, i)["leaf"] for i in range(4)] == texts
        assert audit.inclusion_proof(session, 1, 2)["leaf"] == texts[1]
        assert [proof["leaf"] for proof in audit.inclusion_proofs(session, [3, 0, 2, 3])] == [
            texts[3], texts[0], texts[2], texts[3]]


def test_a_row_beyond_the_log_or_on_a_stored_leaf_fails_verify(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    with Session(engine) as session, session.begin():
        session.execute(update(store.TABLE).where(store.TABLE.c.leaf_index == 3)
                        .values(leaf_index=9))
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 3
    assert report.problem == "leaf 3 (transfer): no ledger_transfer row holds it"
    with Session(engine) as session, session.begin():
        audit.append_leaves(session, [("party", '{"kind":"party"}')] * 6, signer)
    # the row now names leaf 9, a party leaf, and leaf 3 still has no row
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 3
    with Session(engine) as session, session.begin():
        session.execute(update(store.TABLE).where(store.TABLE.c.leaf_index == 9)
                        .values(leaf_index=3))
        # the run of leaves 0-3 ends at 2 now, and leaf 3 keeps its text in log_leaf
        session.execute(text("UPDATE log_leaf SET last_idx = 2 WHERE idx = 0"))
        session.execute(text("INSERT INTO log_leaf (idx, kind, leaf) VALUES (3, 'transfer', "
                             ":text)"), {"text": EXAMPLE[3].leaf_text()})
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 3
    assert report.problem == ("leaf 3: a ledger_transfer row names it, but it holds a "
                              "transfer leaf stored with its own text")


def test_a_leaf_held_twice_fails_verify(engine: Engine, signer: keys.Signer) -> None:
    """A stored leaf written over a run: two log_leaf rows hold leaf 2."""
    post(engine, EXAMPLE, signer)
    with Session(engine) as session, session.begin():
        session.execute(text("INSERT INTO log_leaf (idx, kind, leaf) VALUES (2, 'transfer', "
                             ":text)"), {"text": EXAMPLE[2].leaf_text()})
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 2
    assert report.problem == "leaf 2 is held by more than one log_leaf row"


def test_a_row_naming_a_leaf_past_the_log_fails_verify(
    engine: Engine, signer: keys.Signer
) -> None:
    post(engine, EXAMPLE, signer)
    with Session(engine) as session, session.begin():
        store.insert_transfers(session, [
            t("late", "us-dod", "ua-maker-1", 5, reference="lot:late")], 4)
    report = verified(engine, signer.vkey())
    assert report.first_bad_leaf == 4
    assert report.problem == "a ledger_transfer row names leaf 4, beyond the log of 4 leaves"


# --- exports -----------------------------------------------------------------------------

#: two agreements in two currencies, a reversal, ids whose account names would coincide,
#: an id starting with a digit, and a reference Beancount must quote
AUDIT_LEDGER = [
    *EXAMPLE,
    t("acc:L2:2025-09-05", "us-dod", "ua_maker_1", 12_345, on=D(2025, 9, 5),
      reference='lot:L2 "rush"\\ ok'),
    t("dk:1", "dk-mod", "9th-plant", 1_000_001, agreement="dk-ua", currency="DKK",
      on=D(2025, 8, 1), original=(3_500_000, "UAH")),
    t("dk:2", "dk-mod", "ua-maker-1", 250, agreement="dk-ua", currency="DKK",
      on=D(2025, 8, 2)),
]


@pytest.fixture
def audited(engine: Engine, signer: keys.Signer) -> Engine:
    post(engine, AUDIT_LEDGER, signer)
    post(engine, [reverse(AUDIT_LEDGER[4], "rev:acc:L2", D(2025, 9, 6))], signer)
    return engine


def beancount_balances(path: Path) -> dict[str, dict[str, str]]:
    entries, errors, _options = loader.load_file(str(path))
    assert errors == []
    real = realization.realize(entries)  # type: ignore[no-untyped-call]
    result: dict[str, dict[str, str]] = {}
    for account in realization.iter_children(real):  # type: ignore[no-untyped-call]
        if account.txn_postings and not account.balance.is_empty():
            result[account.account] = {pos.units.currency: str(pos.units.number)
                                       for pos in account.balance}
    return result


def test_beancount_export_passes_bean_check_and_its_balances_equal_ours(
    audited: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "ledger.beancount"
    with Session(audited) as session:
        path.write_text("".join(service.export_beancount(session)), encoding="utf-8")
        ours = store.account_balances(session)
    bean_check = shutil.which("bean-check")
    assert bean_check is not None
    checked = subprocess.run([bean_check, str(path)], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    theirs = beancount_balances(path)
    colliding = service.account_names(["ua-maker-1", "ua_maker_1"])["ua-maker-1"]
    assert colliding.startswith("UaMaker1-")
    names = {
        Account("ua-us-2025", "us-dod", "USD"): "Assets:Deal:UaUs2025:UsDod",
        Account("ua-us-2025", "ua-maker-1", "USD"): "Assets:Deal:UaUs2025:" + colliding,
        Account("dk-ua", "9th-plant", "DKK"): "Assets:Deal:DkUa:9thPlant",
        Account("dk-ua", "ua-maker-1", "DKK"): "Assets:Deal:DkUa:UaMaker1",
    }
    for account, name in names.items():
        assert theirs[name] == {account.currency: format_amount(-ours[account], "USD")}
    # every non-zero balance of ours appears negated, and nothing else
    assert len(theirs) == sum(1 for balance in ours.values() if balance)
    text = path.read_text(encoding="utf-8")
    assert 'option "operating_currency" "DKK"' in text
    assert 'option "operating_currency" "USD"' in text
    assert '  transfer_id: "dk:1"\n' in text
    assert '  original_amount: "35000.00"\n  original_currency: "UAH"\n' in text
    assert '  reverses: "acc:L2:2025-09-05"\n' in text


def test_beancount_export_of_one_agreement(audited: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dk.beancount"
    with Session(audited) as session:
        path.write_text("".join(service.export_beancount(session, "dk-ua")), encoding="utf-8")
    theirs = beancount_balances(path)
    assert theirs == {"Assets:Deal:DkUa:DkMod": {"DKK": "10002.51"},
                      "Assets:Deal:DkUa:9thPlant": {"DKK": "-10000.01"},
                      "Assets:Deal:DkUa:UaMaker1": {"DKK": "-2.50"}}


def test_account_names_are_valid_and_one_to_one() -> None:
    names = service.account_names(["ua-mod", "ua_mod", "UaMod", "x", "---", "9a"])
    assert len(set(names.values())) == 6
    assert names["x"] == "X"
    assert names["9a"] == "9a"
    assert names["---"].startswith("X")
    assert all(name.startswith("UaMod-") for key, name in names.items()
               if key in ("ua-mod", "ua_mod", "UaMod"))


def test_jsonl_export_is_the_canonical_documents_in_log_order(audited: Engine) -> None:
    with Session(audited) as session:
        lines = list(service.export_jsonl(session))
        dk = list(service.export_jsonl(session, "dk-ua"))
    documents = [json.loads(line) for line in lines]
    assert [d["leaf_index"] for d in documents] == list(range(8))
    assert documents[0] == {**EXAMPLE[0].document(), "leaf_index": 0}
    assert documents[7]["kind"] == "reversal"
    assert [json.loads(line)["transfer_id"] for line in dk] == ["dk:1", "dk:2"]


def test_cli_exports_beancount_and_jsonl(audited: Engine, db_url: str, tmp_path: Path) -> None:
    from dronedeal.cli.main import app

    runner = CliRunner()
    out = tmp_path / "out.beancount"
    result = runner.invoke(app, ["--db", db_url, "ledger", "export", "--format", "beancount",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert beancount_balances(out)["Assets:Deal:UaUs2025:UsDod"] == {"USD": "235.00"}
    result = runner.invoke(app, ["--db", db_url, "ledger", "export", "--format", "jsonl",
                                 "--agreement", "dk-ua"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["transfer_id"] for line in result.stdout.splitlines()] == [
        "dk:1", "dk:2"]
    bad = runner.invoke(app, ["--db", db_url, "ledger", "export", "--format", "csv"])
    assert bad.exit_code == 2


def test_rows_hold_exact_integer_amounts(audited: Engine) -> None:
    with Session(audited) as session:
        total = session.execute(select(func.sum(store.TABLE.c.amount))).scalar_one()
        assert int(total) == sum(t.amount for t in AUDIT_LEDGER) + AUDIT_LEDGER[4].amount
        assert session.execute(text("SELECT count(*) FROM ledger_transfer")).scalar_one() == 8
