"""The `dronedeal` command: global options and the command groups of SPEC §7."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dronedeal.cli.common import (
    EXIT_USAGE,
    OutputFormat,
    engine_of,
    fail,
    reading,
    report_errors,
    transaction,
)
from dronedeal.core.errors import RefusedError

app = typer.Typer(
    name="dronedeal",
    help="Run a reciprocal drone deal end to end: catalog, compliance, orders, deliveries, "
    "ledger and a verifiable public record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main_options(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option(
        "--db", envvar="DRONEDEAL_DB",
        help="Database URL: sqlite:///dronedeal.db (default) or postgresql://…")] = None,
    key: Annotated[Path | None, typer.Option(
        "--key", envvar="DRONEDEAL_KEY",
        help="The checkpoint signing key (default ./.dronedeal/signing.key).")] = None,
) -> None:
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    ctx.obj["key"] = key


@app.command()
def init(ctx: typer.Context) -> None:
    """Create or upgrade the schema and make the checkpoint signing key."""
    from dronedeal.services import keys
    from dronedeal.store.schema import create_schema, revision_of

    engine = engine_of(ctx)
    create_schema(engine)
    path = keys.key_path(ctx.obj.get("key"))
    if not path.exists():
        keys.create_key(path, keys.default_origin())
        print(f"signing key created: {path}")
    print(f"schema at revision {revision_of(engine)} on {engine.url.render_as_string()}")


@app.command("import")
def import_(
    ctx: typer.Context,
    pack: Annotated[Path, typer.Argument(help="The deal pack folder.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only.")] = False,
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Import a deal pack folder atomically: all of it, or nothing."""
    from dronedeal.services import keys
    from dronedeal.services.importer import import_pack

    if not pack.is_dir():
        fail(f"{pack} is not a folder; a deal pack is a folder of CSV, XLSX and YAML files",
             EXIT_USAGE)
    _ensure_schema(ctx)
    signer = keys.load_signer(keys.key_path(ctx.obj.get("key")))
    try:
        with transaction(ctx) as session:
            summary = import_pack(session, pack, signer, dry_run=dry_run)
            if dry_run:
                session.rollback()
    except RefusedError as refused:
        report_errors(refused.errors, output)
        return
    if output is OutputFormat.json:
        print(json.dumps(summary.as_json(), indent=2))
        return
    _print_summary(summary.as_json())


def _print_summary(summary: dict[str, Any]) -> None:
    console = Console()
    table = Table(title="dry run: nothing written" if summary["dry_run"] else "imported")
    for column in ("records", "created", "updated", "unchanged", "removed"):
        table.add_column(column, justify="left" if column == "records" else "right")
    for kind in summary["created"]:
        table.add_row(kind, *(str(summary[c].get(kind, 0))
                              for c in ("created", "updated", "unchanged", "removed")))
    console.print(table)
    if not summary["dry_run"]:
        console.print(f"{summary['leaves']} log leaves appended; tree size {summary['tree_size']}")


def _ensure_schema(ctx: typer.Context) -> None:
    from dronedeal.services import keys
    from dronedeal.store.schema import create_schema, head_revision, revision_of

    engine = engine_of(ctx)
    if revision_of(engine) != head_revision():
        create_schema(engine)
    path = keys.key_path(ctx.obj.get("key"))
    if not path.exists():
        keys.create_key(path, keys.default_origin())


@app.command()
def history(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(
        help="party, product, bom_line, agreement, order, license or fx_rate")],
    key: Annotated[str, typer.Argument(
        help="The record's id (bom_line: PRODUCT/PART; fx_rate: DATE/BASE/QUOTE)")],
    output: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Every version of one master record, oldest first, with its log leaf."""
    from dronedeal.store import master

    with reading(ctx) as session:
        versions = master.history(session, kind, key)
        rows = [{"version": v.version, "recorded_at": v.recorded_at.isoformat(),
                 "leaf_index": v.leaf_index,
                 "record": json.loads(v.document) if v.document else None} for v in versions]
    if not rows:
        fail(f"no {kind} {key!r} in the store")
    if output is OutputFormat.json:
        print(json.dumps({"kind": kind, "key": key, "versions": rows}, indent=2,
                         ensure_ascii=False))
        return
    table = Table(title=f"{kind} {key}")
    for column in ("version", "recorded at", "leaf", "record"):
        table.add_column(column)
    for row in rows:
        table.add_row(str(row["version"]), str(row["recorded_at"]), str(row["leaf_index"]),
                      json.dumps(row["record"], ensure_ascii=False) if row["record"]
                      else "(removed)")
    Console(width=200).print(table)


def _mount_groups() -> None:
    from dronedeal.cli.allocate import allocate
    from dronedeal.cli.audit import audit_app
    from dronedeal.cli.check import check, licenses
    from dronedeal.cli.demo import demo
    from dronedeal.cli.ledger import ledger_app
    from dronedeal.cli.publish import publish_app
    from dronedeal.cli.reports import position, settle
    from dronedeal.cli.serve import serve
    from dronedeal.cli.users import users_app

    app.command()(demo)
    app.command()(check)
    app.command()(licenses)
    app.command()(allocate)
    app.command()(position)
    app.command()(settle)
    app.add_typer(audit_app, name="audit", help="The verifiable log: checkpoints, proofs.")
    app.add_typer(ledger_app, name="ledger", help="The double-entry ledger: exports.")
    app.add_typer(users_app, name="users", help="API users and their tokens.")
    app.add_typer(publish_app, name="publish", help="Open Contracting (OCDS) publication.")
    app.command()(serve)


_mount_groups()


def main() -> None:
    app()
