"""`dronedeal audit …`: the verifiable log from the command line (SPEC §6, §7).

Commands print exactly the artefacts an auditor feeds to an independent verifier: the
signed checkpoint note, the vkey, proof JSON and entries as JSON lines. Exit codes: 0
ok; 1 verification failed (the first bad leaf is named on stderr); 2 usage, e.g. a
leaf or size outside the log, or no log or key to read.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from dronedeal.cli.common import EXIT_REFUSED, EXIT_USAGE, engine_of, fail, reading
from dronedeal.core import note
from dronedeal.services import audit, keys
from dronedeal.store import log

#: proofs computed per batch of `audit prove`'s leaves
PROOF_BATCH = 4096

audit_app = typer.Typer(
    name="audit",
    help="The tamper-evident log: signed checkpoints, inclusion and consistency proofs, "
    "entries, and a full verification.",
    no_args_is_help=True,
)


@contextmanager
def _log_session(ctx: typer.Context) -> Iterator[Session]:
    """A session on the `--db` database; log requests it cannot serve exit 2."""
    if not inspect(engine_of(ctx)).has_table(log.LEAF.name):
        fail("the database holds no log: run `dronedeal init` (or import a pack) first",
             EXIT_USAGE)
    try:
        with reading(ctx) as session:
            yield session
    except audit.AuditError as error:
        fail(str(error), EXIT_USAGE)


def _signer(ctx: typer.Context) -> keys.Signer:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    try:
        return keys.load_signer(keys.key_path(obj.get("key")))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None


def _print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")


@audit_app.command("checkpoint")
def checkpoint_command(
    ctx: typer.Context,
    size: Annotated[int | None, typer.Option(
        "--size", help="The checkpoint signed at this tree size (default: the latest).")] = None,
) -> None:
    """Print the latest signed checkpoint (or the one at size N)."""
    with _log_session(ctx) as session:
        sys.stdout.write(audit.checkpoint(session, size))


@audit_app.command("pubkey")
def pubkey_command(ctx: typer.Context) -> None:
    """Print the checkpoint verifier key (C2SP vkey: name+hash+key)."""
    print(_signer(ctx).vkey())


@audit_app.command("prove")
def prove_command(
    ctx: typer.Context,
    leaves: Annotated[list[int] | None, typer.Option(
        "--leaf", help="The leaf index to prove (repeat it for several).")] = None,
    sample: Annotated[int, typer.Option(
        "--sample", min=0, help="Also prove this many leaves drawn at random (an auditor's "
        "sample: drawn here, so the operator cannot foresee them).")] = 0,
    size: Annotated[int | None, typer.Option(
        "--size", help="Tree size to prove against (default: the latest checkpoint).")] = None,
) -> None:
    """Print the inclusion proof of leaf N as JSON; of several leaves, one per line."""
    chosen = list(leaves or [])
    if not chosen and not sample:
        fail("name a leaf with --leaf N, or ask for --sample K", EXIT_USAGE)
    with _log_session(ctx) as session:
        if len(chosen) == 1 and not sample:
            _print_json(audit.inclusion_proof(session, chosen[0], size))
            return
        if sample:
            tree_size = size if size is not None else audit.tree_size_signed(session)
            if sample > tree_size:
                fail(f"--sample {sample} asks for more leaves than the {tree_size} of the "
                     "tree", EXIT_USAGE)
            chosen += secrets.SystemRandom().sample(range(tree_size), sample)
        for start in range(0, len(chosen), PROOF_BATCH):
            for proof in audit.inclusion_proofs(session, chosen[start : start + PROOF_BATCH],
                                                size):
                _print_json(proof)


@audit_app.command("consistency")
def consistency_command(
    ctx: typer.Context,
    from_size: Annotated[int, typer.Option("--from", help="The earlier tree size.")],
    to_size: Annotated[int, typer.Option("--to", help="The later tree size.")],
) -> None:
    """Print the consistency proof from tree size M to tree size N as JSON."""
    with _log_session(ctx) as session:
        _print_json(audit.consistency_proof(session, from_size, to_size))


@audit_app.command("verify")
def verify_command(
    ctx: typer.Context,
    vkey: Annotated[str | None, typer.Option(
        "--vkey", help="Verify the checkpoints against this verifier key instead of the "
        "local signing key's.")] = None,
) -> None:
    """Recompute every leaf, node and checkpoint root; exit 1 on any mismatch."""
    # the ledger's and the events' checks that each row still equals its leaf register
    # themselves when their modules load
    import dronedeal.services.deliveries
    import dronedeal.services.ledger  # noqa: F401
    if vkey is not None:
        try:
            key = note.parse_vkey(vkey)
        except note.NoteError as error:
            print(f"error: --vkey: {error}", file=sys.stderr)
            raise typer.Exit(EXIT_USAGE) from None
    else:
        key = _signer(ctx).verifier()
    with _log_session(ctx) as session:
        # the leaves are read and hashed on every core; the session only reads
        report = audit.verify(session, key, workers=os.cpu_count() or 1)
    if not report.ok:
        print(f"verification failed: {report.problem}", file=sys.stderr)
        if report.first_bad_leaf is not None:
            print(f"first bad leaf: {report.first_bad_leaf}", file=sys.stderr)
        if report.bad_checkpoint is not None:
            print(f"bad checkpoint: tree size {report.bad_checkpoint}", file=sys.stderr)
        raise typer.Exit(EXIT_REFUSED)
    assert report.root is not None
    print(f"ok: {report.leaves_checked} leaves and {report.checkpoints_checked} signed "
          f"checkpoints verified against {key}; root {base64.b64encode(report.root).decode()}")


@audit_app.command("entries")
def entries_command(
    ctx: typer.Context,
    start: Annotated[int, typer.Option("--from", help="First leaf index.")] = 0,
    stop: Annotated[int | None, typer.Option(
        "--to", help="Stop before this leaf index (default: the tree size).")] = None,
) -> None:
    """Print the leaves as JSON lines {"index": i, "leaf": "<canonical JSON>"}."""
    with _log_session(ctx) as session:
        for entry in audit.entries(session, start, stop):
            _print_json(entry)
