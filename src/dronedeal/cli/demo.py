"""`dronedeal demo`: write the demo deal pack, import it, and show what landed."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dronedeal.cli.common import OutputFormat, engine_of, report_errors, transaction
from dronedeal.core.errors import RefusedError


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
) -> None:
    """Generate a realistic demo deal pack, import it and print a summary."""
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
    if output is OutputFormat.json:
        print(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    out_console = Console()
    counts = Table(title="dronedeal demo", show_header=False)
    for name in ("agreements", "parties", "manufacturers", "products", "bom_lines", "orders",
                 "licenses", "fx_rates", "log_leaves"):
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
    out_console.print(f"database: {engine_of(ctx).url.render_as_string()}")
