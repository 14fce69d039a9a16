"""Cross-reference checks: every id a pack row names must exist, and fit.

A pure step on plain data. `MasterView` is the master data as it will be once the pack
lands: what is stored already, overlaid with the pack's records by natural key (the
import service builds it from the database). `check_references` looks at the pack's
own rows only and points at the row (or YAML line) that names a missing or unfitting
record. An id whose own row was refused for errors is not reported again.

`resolve_defaults` settles the one default that needs other records: a flow's
`license_required`, which is "the end user's country differs from seller_country".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Protocol, TypeVar

from dronedeal.core.errors import RowError
from dronedeal.core.records import (
    Agreement,
    BomLine,
    Flow,
    FxRate,
    License,
    MasterRecord,
    Order,
    Party,
    Product,
)
from dronedeal.pack.parsed import Located, ParsedPack


@dataclass(frozen=True, slots=True)
class MasterView:
    """Master records by natural key (`record.key`; BOM lines `product_id/part_number`)."""

    parties: dict[str, Party] = field(default_factory=dict)
    products: dict[str, Product] = field(default_factory=dict)
    bom: dict[str, BomLine] = field(default_factory=dict)
    agreements: dict[str, Agreement] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    licenses: dict[str, License] = field(default_factory=dict)
    fx_rates: dict[str, FxRate] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[MasterRecord]) -> MasterView:
        """A view of stored records, each under its kind and key."""
        view = cls()
        for record in records:
            if isinstance(record, Party):
                view.parties[record.key] = record
            elif isinstance(record, Product):
                view.products[record.key] = record
            elif isinstance(record, BomLine):
                view.bom[record.key] = record
            elif isinstance(record, Agreement):
                view.agreements[record.key] = record
            elif isinstance(record, Order):
                view.orders[record.key] = record
            elif isinstance(record, License):
                view.licenses[record.key] = record
            else:
                view.fx_rates[record.key] = record
        return view

    def overlay(self, pack: ParsedPack) -> MasterView:
        """This view with the pack's records on top (a pack row replaces a stored record
        of the same key); the pack's agreement defaults are resolved first."""
        pack = resolve_defaults(self, pack)
        return MasterView(
            parties={**self.parties, **_by_key(pack.parties)},
            products={**self.products, **_by_key(pack.products)},
            bom={**self.bom, **_by_key(pack.bom)},
            agreements={**self.agreements, **_by_key(pack.agreements)},
            orders={**self.orders, **_by_key(pack.orders)},
            licenses={**self.licenses, **_by_key(pack.licenses)},
            fx_rates={**self.fx_rates, **_by_key(pack.fx_rates)},
        )


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


def _by_key(located: list[Located[K]]) -> dict[str, K]:
    return {item.record.key: item.record for item in located}


def resolve_defaults(master: MasterView, pack: ParsedPack) -> ParsedPack:
    """The pack with each defaulted `license_required` settled from its end user's country.

    The end user is looked up in the pack's parties, then in `master`; a flow whose end
    user is unknown keeps its provisional `True` (and `check_references` reports the id).
    """
    parties = {**master.parties, **{p.record.key: p.record for p in pack.parties}}
    agreements: list[Located[Agreement]] = []
    for located in pack.agreements:
        if not located.defaulted:
            agreements.append(located)
            continue
        remaining = set(located.defaulted)
        flows: list[Flow] = []
        for index, flow in enumerate(located.record.flows):
            path = f"flows[{index}].license_required"
            end_user = parties.get(flow.end_user_id)
            if path in remaining and end_user is not None:
                required = end_user.country != flow.seller_country
                flows.append(replace(flow, license_required=required))
                remaining.discard(path)
            else:
                flows.append(flow)
        record = replace(located.record, flows=tuple(flows))
        agreements.append(replace(located, record=record, defaulted=frozenset(remaining)))
    return replace(pack, agreements=agreements)


def check_references(master: MasterView, pack: ParsedPack) -> list[RowError]:
    """Errors for every reference of a pack row that `master` cannot satisfy, by file, row."""
    checker = _Checker(master, pack)
    for product in pack.products:
        checker.product_row(product)
    for line in pack.bom:
        checker.product(line, "product_id", line.record.product_id)
    for agreement in pack.agreements:
        checker.agreement_row(agreement)
    for license_ in pack.licenses:
        checker.license_row(license_)
    for order in pack.orders:
        checker.order_row(order)
    for rate in pack.fx_rates:
        if rate.record.base == rate.record.quote:
            checker.error(rate, "quote", f"quote is the same currency as base "
                                         f"({rate.record.base}); a rate converts one currency "
                                         "into another")
    return sorted(checker.errors, key=lambda e: (e.file, e.row))


_Any = (Located[Party] | Located[Product] | Located[BomLine] | Located[Agreement]
        | Located[Order] | Located[License] | Located[FxRate])


class _Checker:
    def __init__(self, master: MasterView, pack: ParsedPack) -> None:
        self.master = master
        self.pack = pack
        self.errors: list[RowError] = []

    def error(self, located: _Any, column: str, message: str) -> None:
        self.errors.append(RowError(located.file, located.row_of(column), column, message))

    def _refused(self, table: str, key: str) -> bool:
        return key in self.pack.refused.get(table, frozenset())

    def _unknown(self, located: _Any, column: str, what: str, table: str, key: str) -> None:
        if not self._refused(table, key):
            self.error(located, column, f'unknown {what} "{key}"; add it to '
                                        f"{self.pack.file_of(table)} or fix the id")

    def party(self, located: _Any, column: str, party_id: str) -> Party | None:
        party = self.master.parties.get(party_id)
        if party is None:
            self._unknown(located, column, "party", "parties", party_id)
        return party

    def product(self, located: _Any, column: str, product_id: str) -> Product | None:
        product = self.master.products.get(product_id)
        if product is None:
            self._unknown(located, column, "product", "products", product_id)
        return product

    def agreement(self, located: _Any, column: str, agreement_id: str) -> Agreement | None:
        agreement = self.master.agreements.get(agreement_id)
        if agreement is None:
            self._unknown(located, column, "agreement", "agreements", agreement_id)
        return agreement

    def flow(self, located: _Any, column: str, agreement: Agreement, flow_id: str
             ) -> Flow | None:
        flow = agreement.flow(flow_id)
        if flow is None:
            self.error(located, column,
                       f'agreement "{agreement.agreement_id}" has no flow "{flow_id}"; use '
                       f"one of: {', '.join(f.flow_id for f in agreement.flows)}")
        return flow

    def product_row(self, located: Located[Product]) -> None:
        supplier = self.party(located, "supplier_id", located.record.supplier_id)
        if supplier is not None and supplier.party_kind != "manufacturer":
            self.error(located, "supplier_id",
                       f'party "{supplier.party_id}" is of kind {supplier.party_kind}, not '
                       "manufacturer; a product's supplier must be a manufacturer")

    def license_row(self, located: Located[License]) -> None:
        record = located.record
        self.party(located, "exporter_id", record.exporter_id)
        self.party(located, "end_user_id", record.end_user_id)
        self.product(located, "product_id", record.product_id)

    def order_row(self, located: Located[Order]) -> None:
        order = located.record
        agreement = self.agreement(located, "agreement_id", order.agreement_id)
        flow = self.flow(located, "flow_id", agreement, order.flow_id) if agreement else None
        buyer = self.party(located, "buyer_id", order.buyer_id)
        supplier = self.party(located, "supplier_id", order.supplier_id)
        product = self.product(located, "product_id", order.product_id)
        if flow is not None and buyer is not None and order.buyer_id != flow.buyer_id:
            self.error(located, "buyer_id",
                       f'the buyer of flow "{flow.flow_id}" is "{flow.buyer_id}", not '
                       f'"{order.buyer_id}"; fix buyer_id or flow_id')
        if (product is not None and supplier is not None
                and product.supplier_id != order.supplier_id):
            self.error(located, "supplier_id",
                       f'product "{product.product_id}" is supplied by '
                       f'"{product.supplier_id}", not "{order.supplier_id}"; fix supplier_id '
                       "or product_id")
        if product is not None and flow is not None and not flow.admits(product.category):
            self.error(located, "product_id",
                       f'flow "{flow.flow_id}" does not trade {product.category} products '
                       f"(it trades {', '.join(flow.categories)}); order another product or "
                       "use another flow")

    def agreement_row(self, located: Located[Agreement]) -> None:
        agreement = located.record
        for index, flow in enumerate(agreement.flows):
            path = f"flows[{index}]"
            self.party(located, f"{path}.buyer_id", flow.buyer_id)
            if f"{path}.end_user_id" in located.lines:  # else it is the buyer, checked above
                self.party(located, f"{path}.end_user_id", flow.end_user_id)
        if agreement.fund is not None:
            self.party(located, "fund.party_id", agreement.fund.party_id)
            for index, contribution in enumerate(agreement.fund.contributions):
                path = f"fund.contributions[{index}]"
                self.party(located, f"{path}.payer_id", contribution.payer_id)
                self.flow(located, f"{path}.flow_id", agreement, contribution.flow_id)
        if agreement.reciprocity is not None:
            self.flow(located, "reciprocity.numerator_flow", agreement,
                      agreement.reciprocity.numerator_flow)
            self.flow(located, "reciprocity.denominator_flow", agreement,
                      agreement.reciprocity.denominator_flow)
