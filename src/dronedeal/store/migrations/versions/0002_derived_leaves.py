"""derived leaves: a transfer leaf keeps no text of its own

The `ledger_transfer` row renders a `transfer` leaf's canonical text (see store.log,
`register_derived_kind`), so `log_leaf.leaf` becomes nullable and the stored copies of
transfer texts are dropped. Nothing is lost: each row renders the same bytes, whose hash
level 0 of `merkle_tile` keeps; `dronedeal audit verify` checks every one of them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("log_leaf", schema=None) as batch_op:
        batch_op.alter_column("leaf", existing_type=sa.Text(), nullable=True)
    op.execute("UPDATE log_leaf SET leaf = NULL WHERE kind = 'transfer'")


def downgrade() -> None:
    raise NotImplementedError(
        "transfer leaf texts live only in their ledger_transfer rows now; restore a backup "
        "taken before revision 0002 to go back")
