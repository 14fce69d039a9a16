"""event leaves: event rows are their leaves' only copy; no index on inspected_on

The five event kinds (`shipment`, `inspection`, `case_line`, `case_delivery`, `payment`)
are derived log leaves now (store/events.py registers their renderers), so the texts
`log_leaf` still holds for them are dropped: each event row renders the same bytes,
whose hash level 0 of `merkle_tile` keeps, and `dronedeal audit verify` checks every
one of them. `ix_inspection_inspected_on` goes: no query filters inspections by date
(reports group the whole agreement, or read `unit_tally`), and the manifest import paid
for it on every inspection row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: the leaf kinds store/events.py renders from its rows
EVENT_KINDS: tuple[str, ...] = ("shipment", "inspection", "case_line", "case_delivery",
                                "payment")


def upgrade() -> None:
    with op.batch_alter_table("inspection", schema=None) as batch_op:
        batch_op.drop_index("ix_inspection_inspected_on")
    kinds = ", ".join(f"'{kind}'" for kind in EVENT_KINDS)
    op.execute(f"UPDATE log_leaf SET leaf = NULL WHERE kind IN ({kinds})")


def downgrade() -> None:
    raise NotImplementedError(
        "event leaf texts live only in their event rows now; restore a backup taken before "
        "revision 0004 to go back")
