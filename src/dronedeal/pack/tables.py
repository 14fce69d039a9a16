"""The registry of deal-pack tables: columns, keys, dependency order, record builders.

`TABLES` holds every tabular pack table of SPEC §4 in dependency order (a table comes
after every table it refers to). Master tables carry a `build` that turns a typed row
into a `core.records` record; event tables (`shipments` … `payments`) have columns and
keys but no builder yet, so a pack that holds them is accepted as a pack and their rows
are streamed by their importer. A new table is one `TableSpec` entry plus, when it is
stored, a record type and a builder. `agreements.yaml` is a document, not a table; it
takes its place in `IMPORT_ORDER`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from dronedeal.core.records import (
    COMPONENT_CATEGORIES,
    PARTY_KINDS,
    PRODUCT_CATEGORIES,
    BomLine,
    FxRate,
    License,
    MasterRecord,
    Order,
    Party,
    Product,
)

INSPECTION_RESULTS = ("accepted", "rejected")
AGREEMENTS = "agreements"
"""The stem of the agreements document (`agreements.yaml` or `agreements.yml`)."""


class Kind(StrEnum):
    """What a column holds; each kind has one parser in `pack.cells`."""

    ID = "id"
    TEXT = "text"
    COUNTRY = "country"
    CURRENCY = "currency"
    CHOICE = "choice"
    DATE = "date"
    COUNT = "count"
    AMOUNT = "amount"
    RATE = "rate"


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table.

    `optional` is SPEC's `?`: the column may be left out of the header or left empty.
    `empty_ok` allows an empty cell in a column the header must still carry (a
    shipment's `license_id`: its flow decides whether one is needed).
    `minimum` bounds counts and amounts from below (0: not negative, 1: positive).
    An amount is read in the currency of `currency_column` of the same row.
    """

    name: str
    kind: Kind
    optional: bool = False
    empty_ok: bool = False
    choices: tuple[str, ...] = ()
    what: str = ""  # what a CHOICE value is, for messages: "party kind"
    minimum: int = 0
    currency_column: str = "currency"

    @property
    def may_be_empty(self) -> bool:
        return self.optional or self.empty_ok


Values = Mapping[str, object]
"""A typed row: column name -> parsed value (`str`, `int`, `date`, `Decimal`) or None."""

RowCheck = Callable[[Values], list[tuple[str, str]]]
"""A check across the cells of one valid row: returns (column, message) pairs."""


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A pack table: its columns in header order, its natural key and what it needs first."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    depends_on: tuple[str, ...]
    role: Literal["master", "event", "input"]
    build: Callable[[Values], MasterRecord] | None = None
    row_check: RowCheck | None = None

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        assert len(set(names)) == len(names), f"{self.name}: duplicate column"
        assert set(self.key) <= set(names), f"{self.name}: key is not a column"
        for column in self.columns:
            if column.kind is Kind.AMOUNT:
                assert column.currency_column in names, f"{self.name}.{column.name}: currency"
            if column.kind is Kind.CHOICE:
                assert column.choices, f"{self.name}.{column.name}: choices"
                assert column.what, f"{self.name}.{column.name}: what a choice is"

    @property
    def header(self) -> str:
        """The header as SPEC writes it: `party_id, name, kind, country, identifier?`."""
        return ", ".join(c.name + ("?" if c.optional else "") for c in self.columns)

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


# -- typed access for builders: the row was validated against the spec, so each value
#    has its column's type; the asserts keep that promise checked.

def _text(row: Values, name: str) -> str:
    value = row[name]
    assert isinstance(value, str), name
    return value


def _opt_text(row: Values, name: str) -> str | None:
    value = row.get(name)
    assert value is None or isinstance(value, str), name
    return value


def _int(row: Values, name: str) -> int:
    value = row[name]
    assert isinstance(value, int), name
    assert not isinstance(value, bool), name
    return value


def _date(row: Values, name: str) -> dt.date:
    value = row[name]
    assert isinstance(value, dt.date), name
    return value


def _decimal(row: Values, name: str) -> Decimal:
    value = row[name]
    assert isinstance(value, Decimal), name
    return value


def _build_party(row: Values) -> Party:
    return Party(party_id=_text(row, "party_id"), name=_text(row, "name"),
                 party_kind=_text(row, "kind"), country=_text(row, "country"),
                 identifier=_opt_text(row, "identifier"))


def _build_product(row: Values) -> Product:
    return Product(product_id=_text(row, "product_id"), supplier_id=_text(row, "supplier_id"),
                   name=_text(row, "name"), category=_text(row, "category"),
                   unit_price=_int(row, "unit_price"), currency=_text(row, "currency"),
                   monthly_capacity=_int(row, "monthly_capacity"), nsn=_opt_text(row, "nsn"))


def _build_bom_line(row: Values) -> BomLine:
    return BomLine(product_id=_text(row, "product_id"), part_number=_text(row, "part_number"),
                   component_category=_text(row, "component_category"),
                   manufacturer=_text(row, "manufacturer"),
                   manufacturer_country=_text(row, "manufacturer_country"),
                   origin_country=_text(row, "origin_country"), quantity=_int(row, "quantity"))


def _build_order(row: Values) -> Order:
    return Order(order_id=_text(row, "order_id"), agreement_id=_text(row, "agreement_id"),
                 flow_id=_text(row, "flow_id"), buyer_id=_text(row, "buyer_id"),
                 supplier_id=_text(row, "supplier_id"), product_id=_text(row, "product_id"),
                 quantity=_int(row, "quantity"), unit_price=_int(row, "unit_price"),
                 currency=_text(row, "currency"), due_on=_date(row, "due_on"))


def _build_license(row: Values) -> License:
    return License(license_id=_text(row, "license_id"),
                   authority_country=_text(row, "authority_country"),
                   exporter_id=_text(row, "exporter_id"), end_user_id=_text(row, "end_user_id"),
                   product_id=_text(row, "product_id"), max_quantity=_int(row, "max_quantity"),
                   max_value=_int(row, "max_value"), currency=_text(row, "currency"),
                   valid_from=_date(row, "valid_from"), valid_to=_date(row, "valid_to"))


def _build_fx_rate(row: Values) -> FxRate:
    return FxRate(date=_date(row, "date"), base=_text(row, "base"), quote=_text(row, "quote"),
                  rate=_decimal(row, "rate"))


def _check_license_period(row: Values) -> list[tuple[str, str]]:
    start, end = _date(row, "valid_from"), _date(row, "valid_to")
    if end < start:
        return [("valid_to", f"valid_to {end.isoformat()} is before valid_from "
                             f"{start.isoformat()}; a license ends on or after its first day")]
    return []


def _id(name: str, *, optional: bool = False, empty_ok: bool = False) -> Column:
    return Column(name, Kind.ID, optional=optional, empty_ok=empty_ok)


def _count(name: str, minimum: int = 1) -> Column:
    return Column(name, Kind.COUNT, minimum=minimum)


def _amount(name: str, minimum: int = 0, *, optional: bool = False) -> Column:
    return Column(name, Kind.AMOUNT, minimum=minimum, optional=optional)


_CATEGORY = Column("category", Kind.CHOICE, choices=PRODUCT_CATEGORIES, what="product category")
_CURRENCY = Column("currency", Kind.CURRENCY)

_SPECS = (
    TableSpec(
        "parties",
        (_id("party_id"), Column("name", Kind.TEXT),
         Column("kind", Kind.CHOICE, choices=PARTY_KINDS, what="party kind"),
         Column("country", Kind.COUNTRY), Column("identifier", Kind.TEXT, optional=True)),
        key=("party_id",), depends_on=(), role="master", build=_build_party),
    TableSpec(
        "products",
        (_id("product_id"), _id("supplier_id"), Column("name", Kind.TEXT), _CATEGORY,
         _amount("unit_price"), _CURRENCY, _count("monthly_capacity", minimum=0),
         Column("nsn", Kind.TEXT, optional=True)),
        key=("product_id",), depends_on=("parties",), role="master", build=_build_product),
    TableSpec(
        "bom",
        (_id("product_id"), _id("part_number"),
         Column("component_category", Kind.CHOICE, choices=COMPONENT_CATEGORIES,
                what="component category"),
         Column("manufacturer", Kind.TEXT), Column("manufacturer_country", Kind.COUNTRY),
         Column("origin_country", Kind.COUNTRY), _count("quantity")),
        key=("product_id", "part_number"), depends_on=("products",), role="master",
        build=_build_bom_line),
    TableSpec(
        "licenses",
        (_id("license_id"), Column("authority_country", Kind.COUNTRY), _id("exporter_id"),
         _id("end_user_id"), _id("product_id"), _count("max_quantity"),
         _amount("max_value", minimum=1), _CURRENCY, Column("valid_from", Kind.DATE),
         Column("valid_to", Kind.DATE)),
        key=("license_id",), depends_on=("parties", "products"), role="master",
        build=_build_license, row_check=_check_license_period),
    TableSpec(
        "orders",
        (_id("order_id"), _id("agreement_id"), _id("flow_id"), _id("buyer_id"),
         _id("supplier_id"), _id("product_id"), _count("quantity"), _amount("unit_price"),
         _CURRENCY, Column("due_on", Kind.DATE)),
        key=("order_id",), depends_on=("parties", "products", AGREEMENTS), role="master",
        build=_build_order),
    TableSpec(
        "fx_rates",
        (Column("date", Kind.DATE), Column("base", Kind.CURRENCY),
         Column("quote", Kind.CURRENCY), Column("rate", Kind.RATE)),
        key=("date", "base", "quote"), depends_on=(), role="master", build=_build_fx_rate),
    TableSpec(
        "shipments",
        (_id("serial"), _id("product_id"), _id("lot_id"), _id("order_id"),
         _id("license_id", empty_ok=True), Column("shipped_on", Kind.DATE)),
        key=("product_id", "serial"), depends_on=("products", "orders", "licenses"),
        role="event"),
    TableSpec(
        "inspections",
        (_id("serial"), _id("product_id"),
         Column("result", Kind.CHOICE, choices=INSPECTION_RESULTS, what="inspection result"),
         Column("reason", Kind.TEXT, optional=True), Column("inspected_on", Kind.DATE)),
        key=("product_id", "serial", "inspected_on"), depends_on=("shipments",),
        role="event"),
    TableSpec(
        "cases",
        (_id("case_id"), _count("line"), _id("agreement_id"), _id("flow_id"), _id("seller_id"),
         _id("buyer_id"), Column("description", Kind.TEXT), _CATEGORY, _count("quantity"),
         _amount("unit_price"), _CURRENCY),
        key=("case_id", "line"), depends_on=("parties", AGREEMENTS), role="event"),
    TableSpec(
        "case_deliveries",
        (_id("delivery_id"), _id("case_id"), _count("line"), _count("quantity"),
         Column("delivered_on", Kind.DATE)),
        key=("delivery_id",), depends_on=("cases",), role="event"),
    TableSpec(
        "payments",
        (_id("payment_id"), _id("agreement_id"), _id("payer_id"), _id("payee_id"),
         _amount("amount", minimum=1), _CURRENCY, Column("paid_on", Kind.DATE),
         Column("reference", Kind.TEXT, optional=True)),
        key=("payment_id",), depends_on=("parties", AGREEMENTS), role="event"),
)

TABLES: dict[str, TableSpec] = {spec.name: spec for spec in _SPECS}
"""Every tabular pack table by name, in dependency order."""

IMPORT_ORDER: tuple[str, ...] = (
    "parties", "products", "bom", AGREEMENTS, "licenses", "orders", "fx_rates",
    "shipments", "inspections", "cases", "case_deliveries", "payments",
)
"""Tables and the agreements document in the order an import reads and stores them."""

MASTER_TABLES: tuple[str, ...] = tuple(n for n in IMPORT_ORDER
                                       if n in TABLES and TABLES[n].role == "master")
EVENT_TABLES: tuple[str, ...] = tuple(n for n in IMPORT_ORDER
                                      if n in TABLES and TABLES[n].role == "event")

DEMAND = TableSpec(
    "demand",
    (_id("demand_id"), _id("flow_id"), _CATEGORY, _count("quantity"), Column("due_on", Kind.DATE),
     _amount("max_unit_price", minimum=1, optional=True),
     Column("currency", Kind.CURRENCY, optional=True)),
    key=("demand_id",), depends_on=(AGREEMENTS,), role="input")
"""The input of `allocate --demand FILE`: read like a table, never part of a pack."""

assert set(IMPORT_ORDER) == set(TABLES) | {AGREEMENTS}
assert all(set(TABLES[n].depends_on) <= set(IMPORT_ORDER[:i])
           for i, n in enumerate(IMPORT_ORDER) if n in TABLES), "dependency order"
