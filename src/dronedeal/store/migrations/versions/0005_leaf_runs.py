"""leaf runs: one log_leaf row per run of derived leaves, not one per leaf

A derived leaf (a transfer, a shipment, …) keeps its text in its own row, so its
`log_leaf` row only said "leaf i is a transfer": a batch of 8,190 transfers wrote 8,190
such rows. Now a run of consecutive derived leaves of one kind is one row: `idx` its
first leaf, the new `last_idx` its last. The text-less rows already stored are folded
into runs (consecutive indices of one kind), and every row is either a stored leaf (a
text, no `last_idx`) or a run (no text), which a check constraint keeps; a partial
index finds the run holding a leaf among the stored ones.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: runs of the text-less rows: consecutive indices of one kind share idx - their rank
RUNS = ("SELECT min(idx), kind, max(idx) FROM (SELECT idx, kind, "
        "idx - row_number() OVER (PARTITION BY kind ORDER BY idx) AS run FROM log_leaf "
        "WHERE leaf IS NULL) AS leaves GROUP BY kind, run ORDER BY min(idx)")


def upgrade() -> None:
    connection = op.get_bind()
    runs = [{"idx": first, "kind": kind, "last_idx": last}
            for first, kind, last in connection.execute(sa.text(RUNS))]
    with op.batch_alter_table("log_leaf", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_idx", sa.BigInteger(), nullable=True))
    op.execute("DELETE FROM log_leaf WHERE leaf IS NULL")
    if runs:
        connection.execute(sa.text("INSERT INTO log_leaf (idx, kind, leaf, last_idx) "
                                   "VALUES (:idx, :kind, NULL, :last_idx)"), runs)
    with op.batch_alter_table("log_leaf", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_log_leaf_leaf_or_run"),
            "(last_idx IS NULL AND leaf IS NOT NULL) OR (last_idx >= idx AND leaf IS NULL)")
        batch_op.create_index("ix_log_leaf_runs", ["idx", "last_idx"], unique=False,
                              sqlite_where=sa.text("last_idx IS NOT NULL"),
                              postgresql_where=sa.text("last_idx IS NOT NULL"))


def downgrade() -> None:
    raise NotImplementedError(
        "runs of derived leaves are one row each now; restore a backup taken before "
        "revision 0005 to go back")
