"""`dronedeal allocate`: split a demand across manufacturers at least cost (SPEC §4, §7).

Reads the demand (`--demand FILE`, CSV or an XLSX sheet `demand`), solves the
allocation on the store as it is, and writes the proposed orders as an `orders` table
ready for `dronedeal import`: to `--out FILE`, or to stdout in table mode, where the
summary then goes to stderr so that stdout stays a clean CSV (with `--out` the summary
goes to stdout). `--format json` prints SPEC §4's JSON (plus a `summary`) on stdout.

Exit codes: 0 the whole demand is allocated, or `--partial` was asked and the best
partial allocation is written; 1 the demand file was refused, a rate or ruleset is
missing, or the demand cannot be met in full without `--partial` (the explanation on
stderr, no orders written, JSON with empty `orders` and the `unmet` lines); 2 a bad
option, or an agreement or flow that the store does not hold.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

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
from dronedeal.core.allocation import AllocationResult
from dronedeal.core.csvsafe import csv_text
from dronedeal.core.errors import RefusedError
from dronedeal.core.money import format_amount

#: rows of a summary table shown before "… N more"
SHOWN = 20


def _day(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD",
                                 param_hint="--on") from None


def _share(value: str) -> Decimal:
    try:
        share = Decimal(value)
    except InvalidOperation:
        share = Decimal("NaN")
    if not share.is_finite() or not 0 < share <= 1:
        raise typer.BadParameter(f"{value!r} is not a share above 0 and at most 1, "
                                 "such as 0.4", param_hint="--max-share")
    return share


def allocate(
    ctx: typer.Context,
    *,
    agreement: Annotated[str, typer.Option("--agreement", help="The agreement's id.")],
    flow: Annotated[str, typer.Option("--flow", help="The flow (direction of trade) to "
                                                     "allocate in.")],
    demand: Annotated[Path, typer.Option(
        "--demand", exists=True, dir_okay=False, readable=True,
        help="The demand: a CSV file or an .xlsx workbook with a sheet \"demand\".")],
    on: Annotated[str | None, typer.Option(
        "--on", help="Prices, capacity and compliance as of this date, YYYY-MM-DD "
                     "(default today).")] = None,
    max_share: Annotated[str, typer.Option(
        "--max-share", help="The most one supplier may take of a line, as a share of its "
                            "quantity (rounded down).")] = "0.4",
    partial: Annotated[bool, typer.Option(
        "--partial", help="When the demand cannot be met in full, write the allocation "
                          "that meets the most units at least cost.")] = False,
    out: Annotated[Path | None, typer.Option(
        "--out", dir_okay=False, help="Write the orders CSV here (default: stdout).")] = None,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    rulesets: Annotated[Path | None, typer.Option(
        "--rulesets", file_okay=False,
        help="A folder of extra rulesets (*.yaml) the flow names.")] = None,
) -> None:
    """Propose orders that meet a demand at least cost: capacity, compliance, price
    caps, the agreement ceiling and a share cap per supplier."""
    from dronedeal.core.fx import MissingRateError
    from dronedeal.rules import RuleEvaluationError, UnknownRulesetError, load_library
    from dronedeal.services.allocation import UnknownFlowError, find_flow, read_demand
    from dronedeal.services.allocation import allocate as run_allocation
    from dronedeal.store.schema import revision_of

    day = _day(on)
    share = _share(max_share)
    if rulesets is not None and not rulesets.is_dir():
        fail(f"{rulesets} is not a folder of rulesets", EXIT_USAGE)
    try:
        library = load_library(rulesets)
    except RefusedError as refused:
        report_errors(refused.errors, output, outcome="no allocation was made")
        return
    if revision_of(engine_of(ctx)) is None:
        fail("the database has no schema yet; run `dronedeal init` and import a pack first")
    try:
        with transaction(ctx) as session:
            deal, trade = find_flow(session, agreement_id=agreement, flow_id=flow)
            lines = read_demand(demand, flow=trade, currency=deal.currency)
            outcome = run_allocation(session, agreement_id=agreement, flow_id=flow,
                                     demand=lines, on=day, max_share=share, library=library)
    except UnknownFlowError as unknown:
        fail(str(unknown), EXIT_USAGE)
        return
    except RefusedError as refused:
        report_errors(refused.errors, output, outcome="nothing was allocated")
        return
    except MissingRateError as missing:
        fail(f"{missing}; the allocation prices every candidate in the agreement currency")
        return
    except (UnknownRulesetError, RuleEvaluationError) as cannot:
        fail(f"{cannot}; no product can be judged compliant until this is fixed")
        return
    result = outcome.result
    if not result.feasible and not partial:
        _explain(result, partial=False)
        if output is OutputFormat.json:
            print(json.dumps(result.as_json(with_orders=False), indent=2, ensure_ascii=False))
        raise typer.Exit(EXIT_REFUSED)
    table = orders_csv(result)
    if out is not None:
        out.write_text(table, encoding="utf-8")
    elif output is OutputFormat.table:
        sys.stdout.write(table)
    if output is OutputFormat.json:
        print(json.dumps(result.as_json(), indent=2, ensure_ascii=False))
    else:
        _print_summary(result, Console(stderr=out is None, width=120), out)
    if not result.feasible:
        _explain(result, partial=True)


def orders_csv(result: AllocationResult) -> str:
    """The proposed orders as an `orders` table (SPEC §4 columns, in order)."""
    from dronedeal.pack import TABLES

    columns = [c.name for c in TABLES["orders"].columns]
    return csv_text(columns, ([order.document()[c] for c in columns] for order in result.orders))


def _explain(result: AllocationResult, *, partial: bool) -> None:
    """Which lines are short, by how much, and what binds — on stderr."""
    units = sum(u.units for u in result.unmet)
    print(f"the demand cannot be met in full: {units} unit(s) of {len(result.unmet)} "
          f"line(s) unmet", file=sys.stderr)
    for unmet in result.unmet:
        print(f"  {unmet.demand_id}: {unmet.units} unit(s) unmet, constraint "
              f"{unmet.constraint} — {unmet.detail}", file=sys.stderr)
    if partial:
        print("the orders are the best partial allocation: the most units at least cost",
              file=sys.stderr)
    else:
        print("no orders written; run again with --partial for the best partial "
              "allocation", file=sys.stderr)


def _print_summary(result: AllocationResult, console: Console, out: Path | None) -> None:
    summary: dict[str, Any] = result.summary()
    currency = result.currency
    where = f" written to {out}" if out else ""
    console.print(
        f"allocation of {result.problem.flow.flow_id} ({result.problem.agreement_id}) on "
        f"{result.problem.on.isoformat()}: {len(result.orders)} order(s){where}, "
        f"{summary['units']} unit(s), total cost {format_amount(result.total_cost, currency)} "
        f"{currency}; ceiling left {summary['ceiling_left']} {currency}")
    suppliers = Table(title="units per supplier")
    for column in ("supplier", "units", "share", f"cost ({currency})"):
        suppliers.add_column(column, justify="left" if column == "supplier" else "right")
    for row in summary["suppliers"][:SHOWN]:
        suppliers.add_row(row["supplier_id"], str(row["units"]), row["share"], row["cost"])
    _more(suppliers, len(summary["suppliers"]))
    console.print(suppliers)
    lines = Table(title="demand lines")
    for column in ("demand", "due", "quantity", "allocated", "unmet", "constraint"):
        lines.add_column(column, justify="right" if column in ("quantity", "allocated",
                                                               "unmet") else "left")
    unmet = {u.demand_id: u for u in result.unmet}
    for row in summary["lines"]:
        short = unmet.get(row["demand_id"])
        lines.add_row(row["demand_id"], row["due_on"], str(row["quantity"]),
                      str(row["allocated"]), str(short.units) if short else "0",
                      short.constraint if short else "—")
    console.print(lines)
    binding = Table(title="binding constraints")
    for column in ("constraint", "line", "product / supplier", "detail"):
        binding.add_column(column, overflow="fold")
    for row in summary["binding"][:SHOWN]:
        binding.add_row(row["constraint"], row.get("demand_id", "—"),
                        row.get("product_id") or row.get("supplier_id") or "—", row["detail"])
    _more(binding, len(summary["binding"]))
    if summary["binding"]:
        console.print(binding)


def _more(table: Table, total: int) -> None:
    if total > SHOWN:
        table.add_row(f"… {total - SHOWN} more (--format json lists all)",
                      *[""] * (len(table.columns) - 1))
