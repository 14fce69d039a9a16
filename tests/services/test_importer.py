"""The import pipeline on a real database: idempotency, versions, atomicity."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.dbdump import dump
from tests.packs import MINIMAL_PACK, write_pack

from dronedeal.core.errors import RefusedError
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.store import master


def run_import(engine: Engine, folder: Path, signer: keys.Signer, **kw: bool) -> object:
    with Session(engine) as session, session.begin():
        return import_pack(session, folder, signer, **kw)


def test_import_lands_every_table(engine: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    summary = run_import(engine, write_pack(tmp_path / "pack"), signer)
    with Session(engine) as session:
        assert master.counts(session) == {
            "party": 6, "product": 4, "bom_line": 4, "agreement": 1, "order": 2,
            "license": 1, "fx_rate": 3,
        }
        (agreement,) = master.load_agreements(session)
    assert summary.leaves == 21  # one leaf per record version
    assert agreement.flows[1].end_user_id == "ua-mod"  # defaults to the buyer
    assert agreement.flows[1].license_required is False
    assert agreement.fund is not None
    assert str(agreement.fund.contributions[0].share) == "0.05"


def test_reimport_is_a_noop(engine: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    pack = write_pack(tmp_path / "pack")
    run_import(engine, pack, signer)
    before = dump(engine)
    again = run_import(engine, pack, signer)
    assert again.leaves == 0
    assert sum(again.created.values()) == sum(again.updated.values()) == 0
    assert dump(engine) == before


def test_changed_price_is_a_second_version(
    engine: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    run_import(engine, write_pack(tmp_path / "v1"), signer)
    products = MINIMAL_PACK["products.csv"].replace("4200.00,USD,500", "4350.00,USD,500")
    summary = run_import(engine, write_pack(tmp_path / "v2", products__csv=products), signer)
    assert summary.updated["product"] == 1
    assert summary.leaves == 1
    with Session(engine) as session:
        versions = master.history(session, "product", "prd-0001")
        product = next(p for p in master.load_products(session) if p.product_id == "prd-0001")
    assert [v.version for v in versions] == [1, 2]
    assert '"unit_price":"4200.00"' in (versions[0].document or "")
    assert '"unit_price":"4350.00"' in (versions[1].document or "")
    assert versions[1].leaf_index is not None
    assert versions[0].leaf_index is not None
    assert versions[1].leaf_index > versions[0].leaf_index
    assert product.unit_price == 435000


def test_bom_of_a_listed_product_is_replaced(
    engine: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    run_import(engine, write_pack(tmp_path / "v1"), signer)
    bom = "\n".join(line for line in MINIMAL_PACK["bom.csv"].splitlines()
                    if "CAM-22" not in line) + "\n"
    summary = run_import(engine, write_pack(tmp_path / "v2", bom__csv=bom), signer)
    assert summary.removed == {"bom_line": 1}
    with Session(engine) as session:
        parts = {b.key for b in master.load_bom(session)}
        history = master.history(session, "bom_line", "prd-0001/CAM-22")
    assert "prd-0001/CAM-22" not in parts
    assert [v.document is None for v in history] == [False, True]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"orders__csv": MINIMAL_PACK["orders.csv"].replace("prd-0003", "prd-9999")},
         ("orders.csv", 3, "product_id")),
        ({"products__csv": MINIMAL_PACK["products.csv"].replace("4200.00", "4200.001")},
         ("products.csv", 2, "unit_price")),
        ({"licenses__csv": MINIMAL_PACK["licenses.csv"].replace("us-dod", "us-army")},
         ("licenses.csv", 2, "end_user_id")),
    ],
    ids=["unknown-product-across-files", "too-many-decimals", "unknown-end-user"],
)
def test_a_refused_pack_changes_nothing(
    engine: Engine, tmp_path: Path, signer: keys.Signer,
    override: dict[str, str], expected: tuple[str, int, str],
) -> None:
    run_import(engine, write_pack(tmp_path / "v1"), signer)
    products = MINIMAL_PACK["products.csv"].replace("4200.00,USD,500", "4350.00,USD,500")
    before = dump(engine)
    bad = write_pack(tmp_path / "bad", **{"products__csv": products, **override})
    with pytest.raises(RefusedError) as refused:
        run_import(engine, bad, signer)
    assert (refused.value.errors[0].file, refused.value.errors[0].row,
            refused.value.errors[0].column) == expected
    assert dump(engine) == before


def test_order_without_a_rate_to_the_agreement_currency_is_refused(
    engine: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    fx = "date,base,quote,rate\n2025-08-01,USD,EUR,0.8612\n"
    with pytest.raises(RefusedError) as refused:
        run_import(engine, write_pack(tmp_path / "pack", fx_rates__csv=fx), signer)
    (error,) = refused.value.errors
    assert (error.file, error.row, error.column) == ("orders.csv", 3, "currency")
    assert "UAH→USD" in error.message
    assert dump(engine)["party"] == []


def test_dry_run_reports_and_writes_nothing(
    engine: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    before = dump(engine)
    with Session(engine) as session, session.begin():
        summary = import_pack(session, write_pack(tmp_path / "pack"), signer, dry_run=True)
        session.rollback()
    assert summary.created["party"] == 6
    assert dump(engine) == before
