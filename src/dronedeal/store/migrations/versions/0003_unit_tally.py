"""unit tally: delivered units per lot, order, event and day

Creates `unit_tally` (store/tallies.py), the summary of `shipment` and `inspection` that
the position, the deliveries per month and the lot listings read instead of a million
unit rows, and back-fills it from the unit rows already stored. From here on the
deliveries import keeps it in the same transaction as the rows it writes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: the tally of the unit rows already stored (the same on SQLite and PostgreSQL)
BACKFILL: tuple[str, ...] = (
    "INSERT INTO unit_tally (lot_id, manufacturer_id, order_id, product_id, event, day, "
    "units) SELECT lot_id, manufacturer_id, order_id, product_id, 'shipped', shipped_on, "
    "count(*) FROM shipment "
    "GROUP BY lot_id, manufacturer_id, order_id, product_id, shipped_on",
    "INSERT INTO unit_tally (lot_id, manufacturer_id, order_id, product_id, event, day, "
    "units) SELECT s.lot_id, s.manufacturer_id, s.order_id, s.product_id, i.result, "
    "i.inspected_on, count(*) FROM inspection i JOIN shipment s "
    "ON s.manufacturer_id = i.manufacturer_id AND s.serial = i.serial "
    "GROUP BY s.lot_id, s.manufacturer_id, s.order_id, s.product_id, i.result, "
    "i.inspected_on",
)


def _id() -> sa.types.TypeEngine[str]:
    return sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "unit_tally",
        sa.Column("lot_id", _id(), nullable=False),
        sa.Column("manufacturer_id", _id(), nullable=False),
        sa.Column("order_id", _id(), nullable=False),
        sa.Column("product_id", _id(), nullable=False),
        sa.Column("event", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("units > 0", name=op.f("ck_unit_tally_units_positive")),
        sa.PrimaryKeyConstraint("lot_id", "manufacturer_id", "order_id", "product_id", "event",
                                "day", name=op.f("pk_unit_tally")),
    )
    with op.batch_alter_table("unit_tally", schema=None) as batch_op:
        batch_op.create_index("ix_unit_tally_order_day", ["order_id", "day"], unique=False)
    for statement in BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("unit_tally", schema=None) as batch_op:
        batch_op.drop_index("ix_unit_tally_order_day")
    op.drop_table("unit_tally")
