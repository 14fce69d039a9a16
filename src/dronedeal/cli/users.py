"""`dronedeal users`: make API users. `add` prints the new token once, alone on the last
line of stdout; only its hash is stored, so it cannot be shown again."""

from __future__ import annotations

from typing import Annotated

import typer

from dronedeal.cli.common import EXIT_USAGE, fail, transaction
from dronedeal.services.users import ROLES, UserError, create_user, list_users

users_app = typer.Typer(no_args_is_help=True, help="API users and their tokens.")


@users_app.command("add")
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Who the user is.")],
    role: Annotated[str, typer.Option("--role", help=" | ".join(ROLES))],
    party: Annotated[str | None, typer.Option(
        "--party", help="The party the user acts for (officer: a state; manufacturer: "
                        "itself; inspector: the buyer).")] = None,
) -> None:
    """Make a user; its API token is printed once, on the last line."""
    try:
        with transaction(ctx) as session:
            made = create_user(session, name=name, role=role, party_id=party)
    except UserError as wrong:
        fail(str(wrong), EXIT_USAGE)
        return
    user = made.user
    print(f"user {user.user_id} ({user.name}), role {user.role}"
          + (f", party {user.party_id}" if user.party_id else ""))
    print("its API token follows; it is shown only this once:")
    print(made.token)


@users_app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every user (tokens are not stored, so none is shown)."""
    with transaction(ctx) as session:
        for user in list_users(session):
            print(f"{user.user_id}\t{user.role}\t{user.party_id or '-'}\t{user.name}")
