"""Event tables: shipments, inspections, purchase cases, case deliveries, payments.

Events are immutable (SPEC §4): a row is written once, by the import that brought it,
with the index of the log leaf that holds its canonical JSON. Re-importing the same
event is a no-op; the same key with other content is refused. A serial is delivered at
most once per manufacturer (primary key of `shipment`), and inspected at most once
(primary key of `inspection`). Amounts are integer minor units beside their currency.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, ForeignKey, ForeignKeyConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dronedeal.store.base import Base, ident

Id = ident()


class ShipmentRow(Base):
    __tablename__ = "shipment"
    __table_args__ = (
        Index("ix_shipment_order_shipped", "order_id", "shipped_on"),
        Index("ix_shipment_lot", "lot_id"),
    )
    #: the product's supplier: a serial is unique per manufacturer (SPEC §3 inv. 6)
    manufacturer_id: Mapped[str] = mapped_column(
        ForeignKey("party.party_id"), primary_key=True)
    serial: Mapped[str] = mapped_column(Id, primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    lot_id: Mapped[str] = mapped_column(Id)
    order_id: Mapped[str] = mapped_column(ForeignKey("purchase_order.order_id"))
    license_id: Mapped[str | None] = mapped_column(ForeignKey("export_license.license_id"))
    shipped_on: Mapped[dt.date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(BigInteger)


class InspectionRow(Base):
    __tablename__ = "inspection"
    __table_args__ = (
        ForeignKeyConstraint(["manufacturer_id", "serial"],
                             ["shipment.manufacturer_id", "shipment.serial"]),
        Index("ix_inspection_inspected_on", "inspected_on"),
    )
    manufacturer_id: Mapped[str] = mapped_column(Id, primary_key=True)
    serial: Mapped[str] = mapped_column(Id, primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("product.product_id"))
    #: `accepted` or `rejected`
    result: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    inspected_on: Mapped[dt.date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(BigInteger)


class CaseLineRow(Base):
    """A line of a purchase case (e.g. an FMS letter of offer): the authorisation and the
    order of a flow fed by cases."""

    __tablename__ = "case_line"
    __table_args__ = (
        ForeignKeyConstraint(["agreement_id", "flow_id"],
                             ["agreement_flow.agreement_id", "agreement_flow.flow_id"]),
    )
    case_id: Mapped[str] = mapped_column(Id, primary_key=True)
    line: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(Id, index=True)
    flow_id: Mapped[str] = mapped_column(Id)
    seller_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    buyer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: minor units of `currency`
    unit_price: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    leaf_index: Mapped[int] = mapped_column(BigInteger)


class CaseDeliveryRow(Base):
    __tablename__ = "case_delivery"
    __table_args__ = (
        ForeignKeyConstraint(["case_id", "line"], ["case_line.case_id", "case_line.line"]),
    )
    delivery_id: Mapped[str] = mapped_column(Id, primary_key=True)
    case_id: Mapped[str] = mapped_column(Id)
    line: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(BigInteger)
    delivered_on: Mapped[dt.date] = mapped_column(Date)
    leaf_index: Mapped[int] = mapped_column(BigInteger)


class PaymentRow(Base):
    __tablename__ = "payment"
    payment_id: Mapped[str] = mapped_column(Id, primary_key=True)
    agreement_id: Mapped[str] = mapped_column(ForeignKey("agreement.agreement_id"), index=True)
    payer_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    payee_id: Mapped[str] = mapped_column(ForeignKey("party.party_id"))
    #: minor units of `currency`
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(Text)
    leaf_index: Mapped[int] = mapped_column(BigInteger)
