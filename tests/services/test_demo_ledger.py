"""The demo's whole ledger, exported to Beancount, passes bean-check and balances as ours."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

from beancount import loader
from beancount.core import realization
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dronedeal.core.money import format_amount
from dronedeal.demo.generator import write_demo_pack
from dronedeal.services import keys
from dronedeal.services import ledger as service
from dronedeal.services.importer import import_pack
from dronedeal.store import ledger as store


def test_demo_ledger_passes_bean_check_with_our_balances(engine: Engine, tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    write_demo_pack(pack, scale="small", seed=2025)
    key = tmp_path / "signing.key"
    keys.create_key(key, "dronedeal.test/log")
    with Session(engine) as session, session.begin():
        import_pack(session, pack, keys.load_signer(key))
    path = tmp_path / "demo.beancount"
    with Session(engine) as session:
        path.write_text("".join(service.export_beancount(session)), encoding="utf-8")
        ours = store.account_balances(session)
    assert len(ours) > 40, "the demo posts acceptances, fund shares, case deliveries, payments"

    bean_check = shutil.which("bean-check")
    assert bean_check is not None, "beancount (a dev dependency) installs bean-check"
    checked = subprocess.run([bean_check, str(path)], capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    entries, errors, _ = loader.load_file(str(path))
    assert errors == []
    real = realization.realize(entries)  # type: ignore[no-untyped-call]
    theirs = Counter(
        (pos.units.currency, str(pos.units.number))
        for account in realization.iter_children(real)  # type: ignore[no-untyped-call]
        if account.txn_postings for pos in account.balance
    )
    # Beancount's debit leg is positive: its balance is ours negated, account for account.
    expected = Counter((a.currency, format_amount(-balance, a.currency))
                       for a, balance in ours.items() if balance)
    assert theirs == expected
    for agreement in {a.agreement_id for a in ours}:
        assert sum(b for a, b in ours.items() if a.agreement_id == agreement) == 0
