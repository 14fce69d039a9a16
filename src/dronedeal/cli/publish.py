"""`dronedeal publish …`: the public record of a deal (SPEC §7, §9).

`publish ocds --agreement ID --audience public|auditor [--out FILE] [--policy FILE]`
writes the agreement's OCDS 1.1 release package as JSON to standard output or FILE.
Exit 1 for an agreement the store does not hold (or an order value without the FX rate
that converts it); exit 2 for a policy file that cannot
be applied or an output folder that does not exist. The pseudonym salt lives beside
the signing key named by the global `--key` (see docs/publication.md).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from dronedeal.cli.common import EXIT_USAGE, engine_of, fail, reading

publish_app = typer.Typer(
    name="publish",
    help="Publish the deal: an Open Contracting (OCDS 1.1) release package.",
    no_args_is_help=True,
)


class Audience(StrEnum):
    public = "public"
    auditor = "auditor"


@publish_app.command("ocds")
def ocds(
    ctx: typer.Context,
    agreement: Annotated[str, typer.Option("--agreement", help="The agreement id.")],
    audience: Annotated[Audience, typer.Option(
        "--audience", help="public: redacted by the policy; auditor: nothing withheld.")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the package to this file instead of standard output.")] = None,
    policy: Annotated[Path | None, typer.Option(
        "--policy", envvar="DRONEDEAL_PUBLICATION_POLICY",
        help="The publication policy (YAML); default: the shipped policy.")] = None,
) -> None:
    """The agreement as an OCDS 1.1 release package (JSON)."""
    from dronedeal.core.fx import MissingRateError
    from dronedeal.services.position import UnknownAgreementError
    from dronedeal.services.publication import (
        PolicyError,
        load_policy,
        package_json,
        publication_salt,
        release_package,
    )
    from dronedeal.store.schema import revision_of

    if out is not None and not out.parent.is_dir():
        fail(f"cannot write {out}: folder {out.parent} does not exist", EXIT_USAGE)
    try:
        rules = load_policy(policy)
        salt = (publication_salt((ctx.obj or {}).get("key"))
                if rules.rules(audience.value) else None)
    except PolicyError as wrong:
        fail(str(wrong), EXIT_USAGE)
        return
    if revision_of(engine_of(ctx)) is None:
        fail("the database has no schema yet; run `dronedeal init` and import a pack first")
    try:
        with reading(ctx) as session:
            package = release_package(session, agreement, audience.value, rules, salt=salt)
    except (UnknownAgreementError, MissingRateError) as refused:
        fail(str(refused))
        return
    text = package_json(package) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, encoding="utf-8")
    print(f"{len(package['releases'])} releases written to {out}", file=sys.stderr)
