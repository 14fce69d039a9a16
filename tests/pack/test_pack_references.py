"""Cross-reference checks: every id a pack row names exists in the pack or the store."""

from __future__ import annotations

from pathlib import Path

from tests.pack.pack_samples import (
    AGREEMENTS_YAML,
    ROWS,
    table_csv,
    where,
    with_cell,
    write_csv_pack,
)

from dronedeal.core.errors import RowError
from dronedeal.core.records import Party
from dronedeal.pack import MasterView, ParsedPack, check_references, read_pack, resolve_defaults


def checked(pack: ParsedPack, stored: MasterView | None = None) -> list[RowError]:
    assert pack.errors == [], [str(e) for e in pack.errors]
    return check_references((stored or MasterView()).overlay(pack), pack)


def pack_with(folder: Path, **tables: str | None) -> ParsedPack:
    return read_pack(write_csv_pack(folder, **tables))


def test_valid_pack_references_resolve_across_its_files(tmp_path: Path) -> None:
    assert checked(pack_with(tmp_path)) == []


def test_unknown_party(tmp_path: Path) -> None:
    rows = [*ROWS["products"], ("ax-1", "acme-x", "A", "uas.small", 1, "USD", 1, None)]

    errors = checked(pack_with(tmp_path, products=table_csv("products", rows)))

    assert where(errors) == [("products.csv", 5, "supplier_id")]
    assert errors[0].message == 'unknown party "acme-x"; add it to parties.csv or fix the id'


def test_unknown_product_across_files_of_one_pack(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path, orders=with_cell("orders", 0, "product_id", "sw-q9")))

    assert where(errors) == [("orders.csv", 2, "product_id")]
    assert 'unknown product "sw-q9"; add it to products.csv' in errors[0].message


def test_references_resolve_against_stored_master_data(tmp_path: Path) -> None:
    stored = pack_with(tmp_path / "stored")
    records = [located.record for table in ("parties", "products", "agreements")
               for located in getattr(stored, table)]
    orders_only = pack_with(tmp_path / "orders", parties=None, products=None, bom=None,
                            agreements=None, licenses=None, fx_rates=None)

    assert checked(orders_only, MasterView.of(records)) == []
    assert where(checked(orders_only)) == [
        ("orders.csv", row, column)
        for row in (2, 3, 4)
        for column in ("agreement_id", "buyer_id", "supplier_id", "product_id")]


def test_hint_names_the_sheet_when_the_table_is_in_a_workbook(tmp_path: Path) -> None:
    from openpyxl import Workbook

    rows = [*ROWS["products"], ("ax-1", "acme-x", "A", "uas.small", 1, "USD", 1, None)]
    folder = write_csv_pack(tmp_path, parties=None, products=table_csv("products", rows))
    book = Workbook()
    assert book.active is not None
    book.active.title = "parties"
    book.active.append(["party_id", "name", "kind", "country"])
    for row in ROWS["parties"]:
        book.active.append(list(row[:4]))
    book.save(folder / "deal.xlsx")

    errors = checked(read_pack(folder))

    assert where(errors) == [("products.csv", 5, "supplier_id")]
    assert "add it to deal.xlsx[parties] or fix the id" in errors[0].message


def test_product_supplier_must_be_a_manufacturer(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path,
                               products=with_cell("products", 2, "supplier_id", "us-dod"),
                               orders=table_csv("orders", ROWS["orders"][:1])))

    assert where(errors) == [("products.csv", 4, "supplier_id")]
    assert 'party "us-dod" is of kind agency, not manufacturer' in errors[0].message


def test_order_buyer_must_be_the_flows_buyer(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path, orders=with_cell("orders", 1, "buyer_id", "dk-mod")))

    assert where(errors) == [("orders.csv", 3, "buyer_id")]
    assert 'the buyer of flow "weapons-to-ua" is "ua-mod", not "dk-mod"' in errors[0].message


def test_order_supplier_must_supply_the_product(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path,
                               orders=with_cell("orders", 0, "supplier_id", "boltline")))

    assert where(errors) == [("orders.csv", 2, "supplier_id")]
    assert 'product "sw-q4" is supplied by "skyworks", not "boltline"' in errors[0].message


def test_order_product_category_must_be_admitted_by_the_flow(tmp_path: Path) -> None:
    orders = table_csv("orders", [("o-9", "ua-us-2025", "drones-to-us", "us-dod", "boltline",
                                   "bl-155", 1, 3000, "USD", "2025-10-01")])

    errors = checked(pack_with(tmp_path, orders=orders))

    assert where(errors) == [("orders.csv", 2, "product_id")]
    assert 'flow "drones-to-us" does not trade munition products' in errors[0].message


def test_order_flow_must_belong_to_the_agreement(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path, orders=with_cell("orders", 2, "flow_id", "drones")))

    assert where(errors) == [("orders.csv", 4, "flow_id")]
    assert 'agreement "dk-ua-2025" has no flow "drones"; use one of: drones-to-ua' in \
        errors[0].message


def test_license_parties_and_product(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path,
                               licenses=with_cell("licenses", 0, "end_user_id", "us-army")))

    assert where(errors) == [("licenses.csv", 2, "end_user_id")]


def test_agreement_references_point_at_their_yaml_line(tmp_path: Path) -> None:
    text = (AGREEMENTS_YAML.replace("      buyer_id: us-dod         # who pays",
                                    "      buyer_id: us-dodd")
            .replace("payer_id: us-dod,", "payer_id: nobody,")
            .replace("    numerator_flow: weapons-to-ua", "    numerator_flow: weapons"))
    pack = pack_with(tmp_path, agreements=text, orders=None)

    errors = checked(pack)

    assert where(errors) == [
        ("agreements.yaml", 9, "flows[0].buyer_id"),
        ("agreements.yaml", 24, "fund.contributions[0].payer_id"),
        ("agreements.yaml", 26, "reciprocity.numerator_flow"),
    ]
    assert 'unknown party "us-dodd"; add it to parties.csv' in errors[0].message
    assert 'agreement "ua-us-2025" has no flow "weapons"' in errors[2].message


def test_fx_rate_base_and_quote_differ(tmp_path: Path) -> None:
    errors = checked(pack_with(tmp_path, fx_rates=with_cell("fx_rates", 1, "quote", "EUR")))

    assert where(errors) == [("fx_rates.csv", 3, "quote")]
    assert "quote is the same currency as base (EUR)" in errors[0].message


def test_a_refused_row_is_not_reported_again_as_unknown(tmp_path: Path) -> None:
    pack = pack_with(tmp_path, parties=with_cell("parties", 4, "country", "XX"))

    assert where(pack.errors) == [("parties.csv", 6, "country")]
    assert check_references(MasterView().overlay(pack), pack) == []


def test_license_required_default_comes_from_the_end_users_country(tmp_path: Path) -> None:
    pack = pack_with(tmp_path)
    danish = pack.agreements[1]
    assert danish.defaulted == frozenset({"flows[0].license_required"})

    resolved = resolve_defaults(MasterView(), pack)
    moved = MasterView(parties={"ua-mod": Party("ua-mod", "MoD", "state", "PL")})
    agreements_only = ParsedPack(pack.folder, agreements=pack.agreements)
    abroad = resolve_defaults(moved, agreements_only)
    unknown = resolve_defaults(MasterView(), agreements_only)

    assert resolved.agreements[1].record.flows[0].license_required is False  # UA to UA
    assert resolved.agreements[1].defaulted == frozenset()
    assert abroad.agreements[1].record.flows[0].license_required is True  # UA to PL
    assert unknown.agreements[1].defaulted == danish.defaulted  # still provisional
    view = MasterView().overlay(pack)
    assert view.agreements["dk-ua-2025"].flows[0].license_required is False
    assert view.agreements["ua-us-2025"] == pack.agreements[0].record
