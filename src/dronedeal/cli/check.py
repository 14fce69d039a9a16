"""`dronedeal check` (compliance findings on a date) and `dronedeal licenses` (what is
left on each export license).

`check` evaluates each flow's rulesets on every product its categories admit — only
what changed since the last check is evaluated again — and prints the findings in
force on `--on` (default today). Exit 1 when any finding blocks, or when the check
cannot be made (a flow names an unknown ruleset, a ruleset is malformed, a rule fails
on real data); exit 2 for a bad option. `--format json` prints SPEC §5's shape.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dronedeal.cli.common import (
    EXIT_REFUSED,
    EXIT_USAGE,
    OutputFormat,
    engine_of,
    fail,
    report_errors,
    transaction,
)
from dronedeal.core.compliance import Finding
from dronedeal.core.errors import RefusedError
from dronedeal.core.money import format_amount


def _date(value: str | None) -> dt.date | None:
    """`--on` as a date; a bad one is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None


def _require_schema(ctx: typer.Context) -> None:
    from dronedeal.store.schema import revision_of

    if revision_of(engine_of(ctx)) is None:
        fail("the database has no schema yet; run `dronedeal init` and import a pack first")


def check(
    ctx: typer.Context,
    agreement: Annotated[str | None, typer.Option(
        "--agreement", help="Check the flows of this agreement only.")] = None,
    on: Annotated[str | None, typer.Option(
        "--on", help="The date to judge on, YYYY-MM-DD (default today).")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    rulesets: Annotated[Path | None, typer.Option(
        "--rulesets", help="A folder of extra rulesets (*.yaml), e.g. a pack's rulesets/.",
        file_okay=False)] = None,
) -> None:
    """Compliance findings of every product against its flows' rulesets on a date;
    exit 1 if any finding blocks."""
    from dronedeal.rules import RuleEvaluationError, UnknownRulesetError, load_library
    from dronedeal.services.compliance import UnknownAgreementError
    from dronedeal.services.compliance import check as run_check

    day = _date(on) or dt.date.today()
    if rulesets is not None and not rulesets.is_dir():
        fail(f"{rulesets} is not a folder of rulesets", EXIT_USAGE)
    try:
        library = load_library(rulesets)
    except RefusedError as refused:
        report_errors(refused.errors, output)
        return
    _require_schema(ctx)
    try:
        with transaction(ctx) as session:
            result = run_check(session, on=day, agreement_id=agreement, library=library)
    except UnknownAgreementError as unknown:
        fail(str(unknown), EXIT_USAGE)
        return
    except (UnknownRulesetError, RuleEvaluationError) as cannot:
        fail(f"{cannot}; no product can be judged compliant until this is fixed")
        return
    if output is OutputFormat.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_findings(result.findings, day)
        blocking = len(result.blocking)
        products = len({f.product_id for f in result.blocking})
        Console(stderr=True).print(
            f"{len(result.findings)} finding(s) on {day.isoformat()}: {blocking} blocking "
            f"({products} product(s) blocked), {len(result.findings) - blocking} warning(s); "
            f"{result.refreshed.evaluated} evaluated anew, {result.refreshed.reused} re-used")
    if result.blocking:
        raise typer.Exit(EXIT_REFUSED)


def _print_findings(findings: list[Finding], day: dt.date) -> None:
    table = Table(title=f"compliance findings on {day.isoformat()}")
    for column in ("product", "part", "ruleset", "rule", "severity", "citation", "message"):
        table.add_column(column, overflow="fold")
    for f in sorted(findings, key=lambda f: (not f.blocking, f.product_id, f.ruleset_id,
                                             f.rule_id, f.part_number or "")):
        table.add_row(f.product_id, f.part_number or "—", f.ruleset_id, f.rule_id,
                      "[bold red]block[/]" if f.blocking else "warn", f.citation, f.message)
    if findings:
        Console().print(table)


def licenses(
    ctx: typer.Context,
    product: Annotated[str | None, typer.Option(
        "--product", help="Only the licenses of this product.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Export licenses with the quantity and value drawn and left."""
    from dronedeal.services.licenses import remaining

    _require_schema(ctx)
    with transaction(ctx) as session:
        left = remaining(session, product_id=product)
    if output is OutputFormat.json:
        print(json.dumps({"licenses": [r.as_json() for r in left]}, indent=2,
                         ensure_ascii=False))
        return
    table = Table(title="export licenses")
    for column in ("license", "product", "exporter", "end user", "valid", "units left",
                   "value left"):
        table.add_column(column, justify="right" if "left" in column else "left")
    for r in left:
        table.add_row(r.license_id, r.product_id, r.exporter_id, r.end_user_id,
                      f"{r.valid_from.isoformat()} – {r.valid_to.isoformat()}",
                      f"{r.quantity} of {r.max_quantity}",
                      f"{format_amount(r.value, r.currency)} of "
                      f"{format_amount(r.max_value, r.currency)} {r.currency}")
    Console().print(table)
    if not left:
        Console(stderr=True).print("no export licenses" + (f" for {product}" if product else ""))
