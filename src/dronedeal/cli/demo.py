"""`dronedeal demo`: write the demo deal pack, import it, and show what landed; with
`--serve`, make one user per role and serve the dashboard on the demo database.

The demo pack has no party of kind `state`, so there is no demo officer (an officer acts
for a state); the deal office is seen through the admin and the auditor.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dronedeal.cli.common import OutputFormat, engine_of, report_errors, transaction
from dronedeal.core.errors import RefusedError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

#: the demo's users: name -> (role, party); manufacturers are the demo's first two
DEMO_USERS: Final[dict[str, tuple[str, str | None]]] = {
    "demo-admin": ("admin", None),
    "demo-auditor": ("auditor", None),
    "demo-manufacturer-1": ("manufacturer", "ua-mfr-001"),
    "demo-manufacturer-2": ("manufacturer", "ua-mfr-002"),
    "demo-inspector": ("inspector", "us-dod"),
}


def create_demo_users(session: Session) -> dict[str, str]:
    """Make the demo users (`DEMO_USERS`) and return each one's token, by name."""
    from dronedeal.services.users import create_user

    return {name: create_user(session, name=name, role=role, party_id=party).token
            for name, (role, party) in DEMO_USERS.items()}


class Scale(StrEnum):
    small = "small"
    large = "large"


def demo(
    ctx: typer.Context,
    scale: Annotated[Scale, typer.Option(help="small: a few hundred orders; large: 1M+ units")]
    = Scale.small,
    seed: Annotated[int, typer.Option(help="The same seed gives the same deal.")] = 2025,
    out: Annotated[Path, typer.Option(help="Where the demo pack is written.")]
    = Path("demo-pack"),
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
    *,
    serve: Annotated[bool, typer.Option(
        "--serve", help="Then serve the dashboard on the demo data and print the URL and "
                        "the demo users' tokens.")] = False,
    host: Annotated[str, typer.Option(help="With --serve: address to listen on.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="With --serve: port.")] = 8000,
) -> None:
    """Generate a realistic demo deal pack, import it and print a summary; with --serve,
    open the dashboard on it."""
    from dronedeal.demo.generator import write_demo_pack
    from dronedeal.services import keys
    from dronedeal.services.importer import import_pack
    from dronedeal.services.summary import deal_summary
    from dronedeal.store.schema import create_schema

    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=output is OutputFormat.json) as progress:
        step = progress.add_task(f"writing the {scale.value} demo pack to {out}/", total=None)
        write_demo_pack(out, scale=scale.value, seed=seed)
        progress.update(step, description=f"demo pack written to {out}/", completed=1, total=1)
        step = progress.add_task("creating the schema and the signing key", total=None)
        create_schema(engine_of(ctx))
        path = keys.key_path(ctx.obj.get("key"))
        if not path.exists():
            keys.create_key(path, keys.default_origin())
        signer = keys.load_signer(path)
        progress.update(step, description="schema ready", completed=1, total=1)
        step = progress.add_task("importing the pack", total=None)
        try:
            with transaction(ctx) as session:
                result = import_pack(session, out, signer)
        except RefusedError as refused:
            report_errors(refused.errors, output)
            return
        progress.update(step, description=f"imported: {result.leaves} log leaves",
                        completed=1, total=1)
    with transaction(ctx) as session:
        summary = deal_summary(session)
        summary["allocation"] = _demo_allocation(session, out / "inputs" / "demand.csv")
    if output is OutputFormat.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
    else:
        _print_summary(ctx, summary)
    if serve:
        _serve(ctx, host, port, quiet_stdout=output is OutputFormat.json)


DEMO_AGREEMENT, DEMO_FLOW = "ua-us-2025", "drones-to-us"


def _demo_allocation(session: Session, demand: Path) -> dict[str, Any]:
    """Allocate the demo's demand file across the US flow's makers on the day after the
    demo deal's `AS_OF` (so the same seed gives the same proposal whatever today is; a
    proposal: nothing is written), and summarise it."""
    from dronedeal.demo.events import AS_OF
    from dronedeal.services.allocation import allocate, find_flow, read_demand

    agreement, flow = find_flow(session, agreement_id=DEMO_AGREEMENT, flow_id=DEMO_FLOW)
    lines = read_demand(demand, flow=flow, currency=agreement.currency)
    result = allocate(session, agreement_id=DEMO_AGREEMENT, flow_id=DEMO_FLOW, demand=lines,
                      on=AS_OF + dt.timedelta(days=1)).result
    document = result.as_json()
    return {"agreement_id": DEMO_AGREEMENT, "flow_id": DEMO_FLOW, "demand": str(demand),
            "on": (AS_OF + dt.timedelta(days=1)).isoformat(),
            "currency": document["currency"], "total_cost": document["total_cost"],
            "orders": len(document["orders"]),
            "units": sum(o.quantity for o in result.orders),
            "suppliers": len({o.supplier_id for o in result.orders}),
            "unmet": document["unmet"]}


def _serve(ctx: typer.Context, host: str, port: int, *, quiet_stdout: bool) -> None:
    """Make the demo users, print the URL and their tokens, serve until interrupted."""
    import logging

    import uvicorn

    from dronedeal.api import create_app

    with transaction(ctx) as session:
        tokens = create_demo_users(session)
    # with --format json, stdout holds the JSON summary alone
    out = sys.stderr if quiet_stdout else sys.stdout
    print(f"dashboard: http://{host}:{port}/", file=out)
    print("log in at /login with one of these tokens (shown once):", file=out)
    for name, token in tokens.items():
        role, party = DEMO_USERS[name]
        print(f"  {role:<12} {party or '-':<12} {token}", file=out, flush=True)
    obj = ctx.ensure_object(dict)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    app = create_app(obj.get("db"), key=obj.get("key"))
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")


def _print_summary(ctx: typer.Context, summary: dict[str, Any]) -> None:
    out_console = Console()
    counts = Table(title="dronedeal demo", show_header=False)
    for name in ("agreements", "parties", "manufacturers", "products", "bom_lines", "orders",
                 "licenses", "fx_rates", "shipments", "inspections", "case_lines",
                 "case_deliveries", "payments", "transfers", "log_leaves"):
        counts.add_row(name.replace("_", " "), f"{summary['counts'][name]:,}")
    out_console.print(counts)
    agreements = Table(title="agreements")
    for column in ("agreement", "currency", "ceiling", "ordered", "flows"):
        agreements.add_column(column, justify="right" if column in {"ceiling", "ordered"}
                              else "left")
    for a in summary["agreements"]:
        agreements.add_row(a["agreement_id"], a["currency"], a["ceiling"], a["ordered"],
                           ", ".join(a["flows"]))
    out_console.print(agreements)
    allocation = summary["allocation"]
    unmet = sum(u["units"] for u in allocation["unmet"])
    out_console.print(
        f"allocation of {allocation['demand']} on {allocation['flow_id']} "
        f"as of {allocation['on']}: "
        f"{allocation['units']:,} units in {allocation['orders']} proposed orders across "
        f"{allocation['suppliers']} suppliers, {allocation['total_cost']} "
        f"{allocation['currency']}" + (f"; {unmet:,} units unmet" if unmet else "")
        + " (a proposal: `dronedeal allocate … --out FILE` writes the orders to import)")
    out_console.print(f"database: {engine_of(ctx).url.render_as_string()}")
