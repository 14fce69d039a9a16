"""`dronedeal position` and `dronedeal settle`: an agreement's position and its settlement
proposal as of a date (SPEC §5), as a Rich table or as the stable JSON of
docs/reports.md.

Exit codes: 0 printed; 1 the agreement is unknown, the store has no schema, or a figure
cannot be computed (an FX rate is missing); 2 a bad option (a date that is not
YYYY-MM-DD). Both commands only read.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dronedeal.cli.common import OutputFormat, engine_of, fail, reading
from dronedeal.core.fx import MissingRateError
from dronedeal.core.money import format_amount
from dronedeal.core.position import Figure, Position, Settlement

AgreementOption = Annotated[str, typer.Option(
    "--agreement", help="The agreement's id, as in agreements.yaml.")]
AsOfOption = Annotated[str | None, typer.Option(
    "--as-of", help="Count only events dated on or before this day, YYYY-MM-DD "
    "(default today, UTC).")]
FormatOption = Annotated[OutputFormat, typer.Option("--format")]


def _as_of(value: str | None) -> dt.date:
    """`--as-of` as a date, today (UTC) when absent; a bad one is a usage error (exit 2)."""
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date YYYY-MM-DD",
                                 param_hint="--as-of") from None


def _require_schema(ctx: typer.Context) -> None:
    from dronedeal.store.schema import revision_of

    if revision_of(engine_of(ctx)) is None:
        fail("the database has no schema yet; run `dronedeal init` and import a pack first")


def position(
    ctx: typer.Context,
    agreement: AgreementOption,
    as_of: AsOfOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The position of an agreement: per flow ordered, shipped, accepted, rejected and
    paid; balances per party and country; the fund; ceiling used; reciprocity."""
    from dronedeal.services.position import UnknownAgreementError
    from dronedeal.services.position import position as compute

    day = _as_of(as_of)
    _require_schema(ctx)
    try:
        with reading(ctx) as session:
            report = compute(session=session, agreement_id=agreement, as_of=day)
    except (UnknownAgreementError, MissingRateError) as refused:
        fail(str(refused))
        return
    if output is OutputFormat.json:
        print(json.dumps(report.document(), indent=2, ensure_ascii=False))
        return
    _print_position(report)


def settle(
    ctx: typer.Context,
    agreement: AgreementOption,
    as_of: AsOfOption = None,
    output: FormatOption = OutputFormat.table,
) -> None:
    """The settlement proposal: at most n−1 payments that bring every balance to zero."""
    from dronedeal.services.position import UnknownAgreementError, settlement

    day = _as_of(as_of)
    _require_schema(ctx)
    try:
        with reading(ctx) as session:
            proposal = settlement(session=session, agreement_id=agreement, as_of=day)
    except UnknownAgreementError as unknown:
        fail(str(unknown))
        return
    if output is OutputFormat.json:
        print(json.dumps(proposal.document(), indent=2, ensure_ascii=False))
        return
    _print_settlement(proposal)


def _money(minor: int, currency: str) -> str:
    """An amount for people: thousands grouped, the currency's digits kept."""
    text = format_amount(minor, currency)
    sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, fraction = digits.partition(".")
    return f"{sign}{int(whole):,}{dot}{fraction}"


def _print_position(report: Position) -> None:
    c = report.currency
    console = Console()
    console.print(f"[bold]{report.agreement_id}[/] position as of {report.as_of.isoformat()}"
                  f" in {c}: ceiling {_money(report.ceiling, c)}, used "
                  f"{_money(report.ceiling_used, c)}")
    # one row per flow and measure: narrow enough for an 80-column terminal
    flows = Table(title="flows")
    for column in ("flow", "", "units", "value"):
        flows.add_column(column, justify="right" if column in ("units", "value") else "left")
    for flow in report.flows:
        measures: list[tuple[str, Figure | None, int]] = [
            ("ordered", flow.ordered, 0), ("shipped", flow.shipped, 0),
            ("accepted", flow.accepted, 0), ("rejected", flow.rejected, 0),
            ("paid", None, flow.paid)]
        for position, (name, figure, paid) in enumerate(measures):
            flows.add_row(flow.flow_id if position == 0 else "", name,
                          "" if figure is None else f"{figure.units:,}",
                          _money(paid if figure is None else figure.value, c),
                          end_section=position == len(measures) - 1)
    console.print(flows)
    parties = Table(title="balances (positive: is owed; negative: owes)")
    for column in ("party", "country", "balance"):
        parties.add_column(column, justify="right" if column == "balance" else "left")
    for party in report.parties:
        parties.add_row(party.party_id, party.country or "?", _money(party.balance, c))
    if report.fund is not None:
        parties.add_row(f"{report.fund.party_id} (fund)", "—", _money(report.fund.balance, c))
    console.print(parties)
    countries = Table(title="net by country (funds left out)")
    countries.add_column("country")
    countries.add_column("net", justify="right")
    for net in report.countries:
        countries.add_row(net.country, _money(net.net, c))
    console.print(countries)
    r = report.reciprocity
    if r is not None:
        ratio = "undefined (nothing accepted in the denominator flow)" if r.ratio is None \
            else f"{r.ratio:.4f}"
        verdict = "[green]met[/]" if r.met else "[red]not met[/]"
        console.print(f"reciprocity {ratio}, minimum {r.document()['min_ratio']}: {verdict}")


def _print_settlement(proposal: Settlement) -> None:
    c = proposal.currency
    console = Console()
    title = (f"{proposal.agreement_id} settlement as of {proposal.as_of.isoformat()} "
             f"in {c}")
    if not proposal.payments:
        console.print(f"{title}: every balance is zero; nothing to pay")
        return
    table = Table(title=title)
    for column in ("payer", "payee", "amount"):
        table.add_column(column, justify="right" if column == "amount" else "left")
    for payment in proposal.payments:
        table.add_row(payment.payer_id, payment.payee_id, _money(payment.amount, c))
    console.print(table)
