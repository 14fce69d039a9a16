"""`dronedeal ledger …`: the double-entry ledger from the command line (SPEC §7).

`ledger export --format beancount|jsonl [--agreement ID] [--out FILE]` writes the
ledger as a Beancount file that passes `bean-check` (its balance assertions are our
balances) or as JSON lines of the transfers' canonical documents. Importing this module
also registers the ledger's per-leaf check with `audit verify`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import inspect

from dronedeal.cli.common import EXIT_USAGE, engine_of, fail, transaction
from dronedeal.services import ledger
from dronedeal.store.ledger import TABLE

ledger_app = typer.Typer(
    name="ledger",
    help="The double-entry ledger: exports for auditors and accounting tools.",
    no_args_is_help=True,
)


class ExportFormat(StrEnum):
    beancount = "beancount"
    jsonl = "jsonl"


@ledger_app.command("export")
def export_command(
    ctx: typer.Context,
    output: Annotated[ExportFormat, typer.Option(
        "--format", help="beancount: a file bean-check accepts; jsonl: one transfer a line.")],
    agreement: Annotated[str | None, typer.Option(
        "--agreement", help="Only this agreement's transfers (default: all).")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file instead of standard output.")] = None,
) -> None:
    """Export the ledger as Beancount or JSON lines."""
    if out is not None and not out.parent.is_dir():
        fail(f"cannot write {out}: folder {out.parent} does not exist", EXIT_USAGE)
    if not inspect(engine_of(ctx)).has_table(TABLE.name):
        fail("the database holds no ledger: run `dronedeal init` (or import a pack) first",
             EXIT_USAGE)
    with transaction(ctx) as session:
        if agreement is not None and ledger.agreement_currency(session, agreement) is None:
            print(f"note: agreement {agreement} has no transfers; the export is empty",
                  file=sys.stderr)
        chunks: Iterator[str] = (ledger.export_beancount(session, agreement)
                                 if output is ExportFormat.beancount
                                 else ledger.export_jsonl(session, agreement))
        if out is None:
            for chunk in chunks:
                sys.stdout.write(chunk)
            sys.stdout.flush()
            return
        partial = out.with_name(out.name + ".partial")
        with partial.open("w", encoding="utf-8", newline="\n") as handle:
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(out)
