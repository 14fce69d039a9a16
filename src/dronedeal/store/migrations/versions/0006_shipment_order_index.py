"""drop the shipment index on (order_id, shipped_on): the tally counts units per order

Every shipment row fed this B-tree, and only one query read it: the units an order has
shipped, which a deliveries import asks once per order. `unit_tally` (revision 0003)
holds the same count in a few rows per lot, under its own `(order_id, day)` index. The
other queries that name orders (access scopes, publication) also name a lot, a serial or
a whole agreement, which `ix_shipment_lot`, the primary key or a scan serve. A 1M-row
shipments import on SQLite spent about 3 s of its time in this index.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_order_shipped")


def downgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.create_index("ix_shipment_order_shipped", ["order_id", "shipped_on"],
                              unique=False)
