"""key the unit tables (shipment, inspection) by their log leaf; serials stay unique

A shipment or an inspection is one log leaf, and rows arrive in leaf order. Keyed by
`leaf_index`, a row goes to the end of the table's own B-tree (on SQLite an INTEGER
PRIMARY KEY is the rowid itself), and the separate unique index on `leaf_index` goes:
each 1M-row import fed it a million entries. (manufacturer_id, serial), the key until
now, becomes a unique constraint, which the inspection's foreign key to its shipment
names instead. A 1M shipments + 1M inspections import on SQLite took 16.2–16.3 s before
and 14.9–15.1 s after (the same machine and hour).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEAF_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    _rekey(leaf_keyed=True)


def downgrade() -> None:
    _rekey(leaf_keyed=False)


def _rekey(*, leaf_keyed: bool) -> None:
    """Make `leaf_index` the key and (manufacturer, serial) unique, or the other way
    round; the inspection's foreign key names (manufacturer, serial) either way."""
    if op.get_bind().dialect.name == "sqlite":
        _sqlite(leaf_keyed=leaf_keyed)
        return
    key, unique = ((["leaf_index"], ["manufacturer_id", "serial"]) if leaf_keyed
                   else (["manufacturer_id", "serial"], ["leaf_index"]))
    op.drop_constraint("fk_inspection_manufacturer_id_shipment", "inspection",
                       type_="foreignkey")
    for table in ("shipment", "inspection"):
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.drop_constraint(f"uq_{table}_{key[0]}", table, type_="unique")
        op.create_primary_key(f"pk_{table}", table, key)
        op.create_unique_constraint(f"uq_{table}_{unique[0]}", table, unique)
    op.create_foreign_key("fk_inspection_manufacturer_id_shipment", "inspection", "shipment",
                          ["manufacturer_id", "serial"], ["manufacturer_id", "serial"])


def _sqlite(*, leaf_keyed: bool) -> None:
    """SQLite changes no key in place: both tables are made anew and their rows copied in
    leaf order (the inspections first out, the shipments they name last out)."""
    op.execute("PRAGMA defer_foreign_keys = ON")
    for table in ("inspection", "shipment"):
        op.rename_table(table, f"_old_{table}")
    op.drop_index("ix_shipment_lot", table_name="_old_shipment")  # its name is reused
    pk, unique = ((["leaf_index"], ["manufacturer_id", "serial"]) if leaf_keyed
                  else (["manufacturer_id", "serial"], ["leaf_index"]))

    def leaf() -> sa.Column[int]:
        if leaf_keyed:
            return sa.Column("leaf_index", _LEAF_KEY, nullable=False, autoincrement=False)
        return sa.Column("leaf_index", sa.BigInteger(), nullable=False)

    op.create_table(
        "shipment",
        sa.Column("manufacturer_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("lot_id", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=False),
        sa.Column("license_id", sa.String(length=64), nullable=True),
        sa.Column("shipped_on", sa.Date(), nullable=False),
        leaf(),
        sa.ForeignKeyConstraint(["license_id"], ["export_license.license_id"],
                                name="fk_shipment_license_id_export_license"),
        sa.ForeignKeyConstraint(["manufacturer_id"], ["party.party_id"],
                                name="fk_shipment_manufacturer_id_party"),
        sa.ForeignKeyConstraint(["order_id"], ["purchase_order.order_id"],
                                name="fk_shipment_order_id_purchase_order"),
        sa.ForeignKeyConstraint(["product_id"], ["product.product_id"],
                                name="fk_shipment_product_id_product"),
        sa.PrimaryKeyConstraint(*pk, name="pk_shipment"),
        sa.UniqueConstraint(*unique, name=f"uq_shipment_{unique[0]}"),
    )
    op.create_index("ix_shipment_lot", "shipment", ["lot_id"], unique=False)
    op.create_table(
        "inspection",
        sa.Column("manufacturer_id", sa.String(length=64), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("product_id", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        leaf(),
        sa.ForeignKeyConstraint(["manufacturer_id", "serial"],
                                ["shipment.manufacturer_id", "shipment.serial"],
                                name="fk_inspection_manufacturer_id_shipment"),
        sa.ForeignKeyConstraint(["product_id"], ["product.product_id"],
                                name="fk_inspection_product_id_product"),
        sa.PrimaryKeyConstraint(*pk, name="pk_inspection"),
        sa.UniqueConstraint(*unique, name=f"uq_inspection_{unique[0]}"),
    )
    columns = {"shipment": "manufacturer_id, serial, product_id, lot_id, order_id, "
                           "license_id, shipped_on, leaf_index",
               "inspection": "manufacturer_id, serial, product_id, result, reason, "
                             "inspected_on, leaf_index"}
    for table in ("shipment", "inspection"):
        op.execute(f"INSERT INTO {table} ({columns[table]}) SELECT {columns[table]} "
                   f"FROM _old_{table} ORDER BY leaf_index")
    for table in ("inspection", "shipment"):
        op.drop_table(f"_old_{table}")
