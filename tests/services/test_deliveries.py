"""Event import on a real database: every gate of SPEC §3 inv. 6-7, idempotency, postings.

Each refusal test imports the minimal master pack, then a pack with one bad event row,
and checks the error's file, row and column and that nothing changed (every table,
the log and the ledger, via `tests.dbdump.dump`).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session
from tests.dbdump import dump
from tests.packs import MINIMAL_PACK, write_pack
from tests.verifying import verified

from dronedeal.core.canonical import canonical_json
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.services import audit, keys
from dronedeal.services.importer import ImportSummary, import_pack
from dronedeal.services.ledger import balances
from dronedeal.services.licenses import remaining
from dronedeal.store import events, log
from dronedeal.store.ledger import LedgerTransferRow

SHIP_HEADER = "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
INSPECT_HEADER = "serial,product_id,result,reason,inspected_on\n"

#: the minimal pack plus a USD license for the UAH-priced training course
MASTER = {
    **MINIMAL_PACK,
    "licenses.csv": MINIMAL_PACK["licenses.csv"]
    + "lic-0002,UA,ua-mfr-002,us-dod,prd-0003,2,70000.00,USD,2025-09-01,2026-12-31\n",
}

CASES = (
    "case_id,line,agreement_id,flow_id,seller_id,buyer_id,description,category,quantity,"
    "unit_price,currency\n"
    "UA-D-SAA,1,ua-us-2025,weapons-to-ua,us-prime-001,ua-mod,Interceptor missiles,"
    "air_defense,10,4100000.00,USD\n"
    "UA-D-SAA,2,ua-us-2025,weapons-to-ua,us-prime-001,ua-mod,Operator training,training,2,"
    "150000.00,EUR\n")
DELIVERIES = """delivery_id,case_id,line,quantity,delivered_on
dlv-1,UA-D-SAA,1,4,2025-10-15
dlv-2,UA-D-SAA,2,1,2025-11-03
"""
PAYMENTS = """payment_id,agreement_id,payer_id,payee_id,amount,currency,paid_on,reference
pay-1,ua-us-2025,us-dod,ua-mfr-001,10000.00,USD,2025-11-20,INV-1
pay-2,ua-us-2025,ua-mod,us-prime-001,5000000.00,UAH,2025-12-01,
"""


def serials(count: int, start: int = 1, prefix: str = "VZ7-2025-") -> list[str]:
    return [f"{prefix}{n:06d}" for n in range(start, start + count)]


def shipments(rows: list[str]) -> str:
    return SHIP_HEADER + "".join(row + "\n" for row in rows)


def vezha(count: int, *, start: int = 1, lot: str = "LOT-A", day: str = "2025-10-01",
          order: str = "ord-0001", license_id: str = "lic-0001") -> list[str]:
    return [f"{s},prd-0001,{lot},{order},{license_id},{day}" for s in serials(count, start)]


def inspections(rows: list[str]) -> str:
    return INSPECT_HEADER + "".join(row + "\n" for row in rows)


def run(engine: Engine, folder: Path, signer: keys.Signer) -> ImportSummary:
    with Session(engine) as session, session.begin():
        return import_pack(session, folder, signer)


@pytest.fixture
def deal(engine: Engine, tmp_path: Path, signer: keys.Signer) -> Engine:
    """The minimal master data, imported."""
    run(engine, write_pack(tmp_path / "master", MASTER), signer)
    return engine


def events_pack(tmp_path: Path, **files: str) -> Path:
    """A new pack of event files only (`shipments="…"` writes shipments.csv)."""
    number = sum(1 for _ in tmp_path.glob("events-*")) + 1
    return write_pack(tmp_path / f"events-{number}",
                      {f"{name}.csv": text for name, text in files.items()})


def refused(engine: Engine, folder: Path, signer: keys.Signer) -> list[RowError]:
    """Import `folder`, expecting a refusal that changes nothing; its errors."""
    before = dump(engine)
    with pytest.raises(RefusedError) as caught:
        run(engine, folder, signer)
    assert dump(engine) == before
    return caught.value.errors


def only(errors: list[RowError]) -> RowError:
    assert len(errors) == 1, errors
    return errors[0]


# -- shipments ---------------------------------------------------------------------------

def test_shipments_land_with_leaves_and_license_draws(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    summary = run(deal, events_pack(tmp_path, shipments=shipments(vezha(120))), signer)
    assert summary.created["shipment"] == 120
    with Session(deal) as session:
        rows = session.execute(select(events.ShipmentRow).order_by(
            events.ShipmentRow.serial)).scalars().all()
        assert len(rows) == 120
        assert rows[0].manufacturer_id == "ua-mfr-001"
        leaf = log.leaf_text(session, rows[0].leaf_index)
        (left,) = remaining(session, product_id="prd-0001")
    assert leaf == canonical_json({
        "kind": "shipment", "manufacturer_id": "ua-mfr-001", "serial": "VZ7-2025-000001",
        "product_id": "prd-0001", "lot_id": "LOT-A", "order_id": "ord-0001",
        "license_id": "lic-0001", "shipped_on": "2025-10-01"})
    assert (left.drawn_quantity, left.drawn_value) == (120, 120 * 420_000)


def test_reimport_is_a_noop_and_changed_content_is_refused(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    pack = events_pack(tmp_path, shipments=shipments(vezha(5)),
                       inspections=inspections([f"{s},prd-0001,accepted,,2025-10-05"
                                                for s in serials(5)]))
    run(deal, pack, signer)
    before = dump(deal)
    again = run(deal, pack, signer)
    assert again.leaves == 0
    assert again.unchanged["shipment"] == 5
    assert dump(deal) == before
    changed = vezha(5)
    changed[2] = changed[2].replace("LOT-A", "LOT-B")
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(changed)), signer))
    assert (error.file, error.row, error.column) == ("shipments.csv", 4, "serial")
    assert "lot_id LOT-A then, LOT-B now" in error.message


def test_serial_twice_in_the_file(deal: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    rows = vezha(3) + vezha(1, lot="LOT-B")
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(rows)), signer))
    assert (error.row, error.column) == (5, "serial")
    assert "is on row 2 already" in error.message


def test_product_must_match_the_order(deal: Engine, tmp_path: Path,
                                      signer: keys.Signer) -> None:
    rows = [*vezha(1), "OB-1,prd-0002,LOT-X,ord-0001,lic-0001,2025-10-01"]
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(rows)), signer))
    assert (error.file, error.row, error.column) == ("shipments.csv", 3, "product_id")
    assert "order ord-0001 is for product prd-0001, not prd-0002" in error.message


def test_order_quantity_left_counts_store_and_file(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    run(deal, events_pack(tmp_path, shipments=shipments(vezha(990))), signer)
    rows = vezha(15, start=991, lot="LOT-B")
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(rows)), signer))
    assert (error.row, error.column) == (12, "order_id")  # the 1001st unit
    assert "order ord-0001 is for 1000 units and 1000 are shipped" in error.message


def test_license_required_valid_and_with_quantity_left(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    missing = refused(deal, events_pack(tmp_path, shipments=shipments(
        vezha(2, license_id=""))), signer)[0]
    assert (missing.row, missing.column) == (2, "license_id")
    assert "needs an export license" in missing.message
    early = only(refused(deal, events_pack(tmp_path, shipments=shipments(
        vezha(1, day="2025-08-20"))), signer))
    assert early.column == "license_id"
    assert "not valid yet on 2025-08-20" in early.message
    wrong = only(refused(deal, events_pack(tmp_path, shipments=shipments(
        ["T-1,prd-0003,LOT-T,ord-0002,lic-0001,2025-10-01"])), signer))
    assert wrong.column == "license_id"
    assert "covers product prd-0001" in wrong.message


def test_license_value_runs_out_on_the_exact_row(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    # lic-0002: 70,000.00 USD for a course of 1,250,000.00 UAH (~30,100 USD at 41.52)
    rows = [f"T-{n},prd-0003,LOT-T,ord-0002,lic-0002,2025-10-01" for n in (1, 2)]
    tight = MASTER["licenses.csv"].replace("70000.00", "40000.00")
    with Session(deal) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "tight", MASTER, licenses__csv=tight),
                    signer)
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(rows)), signer))
    assert (error.row, error.column) == (3, "license_id")
    assert "license lic-0002 has 40000.00 USD of 40000.00 left" in error.message


def test_license_quantity_runs_out_on_the_exact_row(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    small = MASTER["licenses.csv"].replace("prd-0001,1200,5040000.00", "prd-0001,100,5040000.00")
    with Session(deal) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "small", MASTER, licenses__csv=small),
                    signer)
    run(deal, events_pack(tmp_path, shipments=shipments(vezha(60))), signer)
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(
        vezha(50, start=61, lot="LOT-B"))), signer))
    assert (error.row, error.column) == (42, "license_id")  # the 101st unit
    assert "license lic-0001 has 40 of 100 units left" in error.message


def test_license_of_another_exporter_or_end_user(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    other = MASTER["licenses.csv"].replace("lic-0001,UA,ua-mfr-001,us-dod",
                                           "lic-0001,UA,ua-mfr-001,ua-mod")
    with Session(deal) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "other", MASTER, licenses__csv=other),
                    signer)
    error = only(refused(deal, events_pack(tmp_path, shipments=shipments(vezha(1))), signer))
    assert (error.row, error.column) == (2, "license_id")
    assert "names end user ua-mod, but flow drones-to-us delivers to us-dod" in error.message


def test_blocked_product_does_not_ship(deal: Engine, tmp_path: Path,
                                       signer: keys.Signer) -> None:
    bom = MASTER["bom.csv"].replace("CAM-22,camera,Optika Kyiv,UA,UA",
                                    "CAM-22,camera,Shenzhen Optics,CN,CN")
    with Session(deal) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "cn", MASTER, bom__csv=bom), signer)
    errors = refused(deal, events_pack(tmp_path, shipments=shipments(vezha(3))), signer)
    assert [(e.row, e.column) for e in errors] == [(2, "product_id"), (3, "product_id"),
                                                   (4, "product_id")]
    assert "prd-0001 is blocked in drones-to-us on 2025-10-01" in errors[0].message
    assert "US-848" in errors[0].message


def test_cell_errors_name_row_and_column(deal: Engine, tmp_path: Path,
                                         signer: keys.Signer) -> None:
    rows = [*vezha(2), "bad serial,prd-0001,LOT-A,ord-0001,lic-0001,2025-13-01"]
    errors = refused(deal, events_pack(tmp_path, shipments=shipments(rows)), signer)
    assert [(e.row, e.column) for e in errors] == [(4, "serial"), (4, "shipped_on")]


# -- inspections --------------------------------------------------------------------------

def test_inspection_gates(deal: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    run(deal, events_pack(tmp_path, shipments=shipments(vezha(3))), signer)
    never = only(refused(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000009,prd-0001,accepted,,2025-10-05"])), signer))
    assert (never.file, never.row, never.column) == ("inspections.csv", 2, "serial")
    assert "was never shipped" in never.message
    early = only(refused(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000001,prd-0001,accepted,,2025-09-30"])), signer))
    assert early.column == "inspected_on"
    assert "before the unit was shipped" in early.message
    twice = only(refused(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000001,prd-0001,accepted,,2025-10-05",
         "VZ7-2025-000001,prd-0001,rejected,cracked frame,2025-10-06"])), signer))
    assert (twice.row, twice.column) == (3, "serial")
    assert "row 2 already" in twice.message
    run(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000001,prd-0001,accepted,,2025-10-05"])), signer)
    again = only(refused(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000001,prd-0001,rejected,cracked frame,2025-10-05"])), signer))
    assert again.column == "serial"
    assert "result accepted then, rejected now" in again.message


def test_blocking_finding_on_the_inspection_date(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    run(deal, events_pack(tmp_path, shipments=shipments(vezha(2))), signer)
    bom = MASTER["bom.csv"].replace("CAM-22,camera,Optika Kyiv,UA,UA",
                                    "CAM-22,camera,Shenzhen Optics,CN,CN")
    with Session(deal) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "cn", MASTER, bom__csv=bom), signer)
    error = only(refused(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000001,prd-0001,accepted,,2025-10-05"])), signer))
    assert (error.row, error.column) == (2, "result")
    assert "is blocked" in error.message
    # rejecting the unit is what the inspector can do
    run(deal, events_pack(tmp_path, inspections=inspections(
        ["VZ7-2025-000001,prd-0001,rejected,CN camera,2025-10-05"])), signer)


def test_acceptance_posts_per_lot_and_date_with_fx(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    course = [f"T-{n},prd-0003,LOT-T,ord-0002,lic-0002,2025-10-01" for n in (1, 2)]
    pack = events_pack(
        tmp_path, shipments=shipments(vezha(10) + course),
        inspections=inspections(
            [f"{s},prd-0001,accepted,,2025-10-05" for s in serials(7)]
            + ["VZ7-2025-000008,prd-0001,rejected,\"motor, noisy\",2025-10-05"]
            + [f"{s},prd-0001,accepted,,2025-10-09" for s in serials(2, 9)]
            + ["T-1,prd-0003,accepted,,2025-10-20", "T-2,prd-0003,accepted,,2025-10-20"]))
    summary = run(deal, pack, signer)
    assert summary.created["inspection"] == 12
    with Session(deal) as session:
        posted = {t.transfer_id: t for t in session.scalars(select(LedgerTransferRow))}
        balance = balances(session, "ua-us-2025")
    assert posted["acc:LOT-A:2025-10-05"].amount == 7 * 420_000
    assert posted["acc:LOT-A:2025-10-09"].amount == 2 * 420_000
    course_usd = (Decimal(2 * 125_000_000) / Decimal("41.52")).quantize(
        Decimal(1), ROUND_HALF_EVEN)
    acc = posted["acc:LOT-T:2025-10-20"]
    assert (acc.amount, acc.original_amount, acc.original_currency) == (
        int(course_usd), 2 * 125_000_000, "UAH")
    fund = posted["fund:LOT-T:2025-10-20"]
    assert fund.amount == int((course_usd * Decimal("0.05")).quantize(Decimal(1),
                                                                      ROUND_HALF_EVEN))
    assert len(posted) == 6  # three acceptances, three contributions; the rejection none
    assert sum(balance.values()) == 0
    assert balance["ua-mfr-001"] == 9 * 420_000


def test_inspection_leaf_is_canonical(deal: Engine, tmp_path: Path,
                                      signer: keys.Signer) -> None:
    pack = events_pack(tmp_path, shipments=shipments(vezha(1)), inspections=inspections(
        ['VZ7-2025-000001,prd-0001,rejected,"Rotor ""B"" cracked — ß",2025-10-05']))
    run(deal, pack, signer)
    with Session(deal) as session:
        row = session.scalars(select(events.InspectionRow)).one()
        text = log.leaf_text(session, row.leaf_index)
    assert text == canonical_json({
        "kind": "inspection", "manufacturer_id": "ua-mfr-001", "serial": "VZ7-2025-000001",
        "product_id": "prd-0001", "result": "rejected", "reason": 'Rotor "B" cracked — ß',
        "inspected_on": "2025-10-05"})


def test_missing_rate_refuses_the_row(deal: Engine, tmp_path: Path,
                                      signer: keys.Signer) -> None:
    error = only(refused(deal, events_pack(tmp_path, cases=CASES.replace(
        "150000.00,EUR", "150000.00,GBP")), signer))
    assert (error.file, error.row, error.column) == ("cases.csv", 3, "currency")
    assert "no GBP→USD rate on or before 2025-08-01" in error.message
    payment = PAYMENTS.splitlines()[0] + "\npay-9,ua-us-2025,us-dod,urif,100.00,NOK,2025-11-20,\n"
    error = only(refused(deal, events_pack(tmp_path, payments=payment), signer))
    assert (error.file, error.row, error.column) == ("payments.csv", 2, "paid_on")
    assert "no NOK→USD rate on or before 2025-11-20" in error.message


# -- cases, deliveries, payments -------------------------------------------------------

def test_cases_deliveries_and_payments_post(deal: Engine, tmp_path: Path,
                                            signer: keys.Signer) -> None:
    pack = events_pack(tmp_path, cases=CASES, case_deliveries=DELIVERIES, payments=PAYMENTS)
    summary = run(deal, pack, signer)
    assert (summary.created["case_line"], summary.created["case_delivery"],
            summary.created["payment"]) == (2, 2, 2)
    with Session(deal) as session:
        posted = {t.transfer_id: t for t in session.scalars(select(LedgerTransferRow))}
        balance = balances(session, "ua-us-2025")
    assert posted["cd:dlv-1"].amount == 4 * 410_000_000
    eur_usd = (Decimal(15_000_000) / Decimal("0.8612")).quantize(Decimal(1), ROUND_HALF_EVEN)
    assert posted["cd:dlv-2"].amount == int(eur_usd)
    uah = (Decimal(500_000_000) / Decimal("41.52")).quantize(Decimal(1), ROUND_HALF_EVEN)
    pay = posted["pay:pay-2"]
    assert (pay.debit_party, pay.credit_party, pay.amount) == ("us-prime-001", "ua-mod",
                                                               int(uah))
    assert balance["us-prime-001"] == 4 * 410_000_000 + int(eur_usd) - int(uah)
    before = dump(deal)
    assert run(deal, pack, signer).leaves == 0
    assert dump(deal) == before


def test_case_delivery_beyond_the_line(deal: Engine, tmp_path: Path,
                                       signer: keys.Signer) -> None:
    run(deal, events_pack(tmp_path, cases=CASES, case_deliveries=DELIVERIES), signer)
    extra = DELIVERIES.splitlines()[0] + "\ndlv-3,UA-D-SAA,1,7,2025-12-01\n"
    error = only(refused(deal, events_pack(tmp_path, case_deliveries=extra), signer))
    assert (error.file, error.row, error.column) == ("case_deliveries.csv", 2, "quantity")
    assert "is for 10 units and 4 are delivered" in error.message


def test_payment_between_strangers_is_refused(deal: Engine, tmp_path: Path,
                                              signer: keys.Signer) -> None:
    # no order or case of the agreement makes us-prime-001 a party yet
    error = only(refused(deal, events_pack(tmp_path, payments=PAYMENTS), signer))
    assert (error.file, error.row, error.column) == ("payments.csv", 3, "payee_id")
    assert "us-prime-001 is not a party of agreement ua-us-2025" in error.message
    itself = PAYMENTS.replace("us-dod,ua-mfr-001", "us-dod,us-dod")
    error = only(refused(deal, events_pack(tmp_path, cases=CASES, payments=itself), signer))
    assert (error.row, error.column) == (2, "payee_id")


def test_case_for_the_wrong_buyer(deal: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    wrong = CASES.replace("us-prime-001,ua-mod,Operator", "us-prime-001,us-dod,Operator")
    error = only(refused(deal, events_pack(tmp_path, cases=wrong), signer))
    assert (error.row, error.column) == (3, "buyer_id")


def test_xlsx_shipments(deal: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "shipments"
    sheet.append(SHIP_HEADER.strip().split(","))
    for row in vezha(3):
        texts = row.split(",")
        sheet.append([*texts[:5], dt.date.fromisoformat(texts[5])])
    sheet.append(["VZ7-2025-000001", "prd-0001", "LOT-A", "ord-0001", "lic-0001",
                  dt.date(2025, 10, 1)])
    folder = tmp_path / "xlsx"
    folder.mkdir()
    book.save(folder / "manifest.xlsx")
    error = only(refused(deal, folder, signer))
    assert (error.file, error.row, error.column) == ("manifest.xlsx[shipments]", 5, "serial")
    sheet.delete_rows(5)
    book.save(folder / "manifest.xlsx")
    assert run(deal, folder, signer).created["shipment"] == 3


def test_rows_after_a_multi_line_reason_keep_their_line_numbers(
    deal: Engine, tmp_path: Path, signer: keys.Signer
) -> None:
    rows = ['VZ7-2025-000001,prd-0001,rejected,"cracked arm\nsee photo",2025-10-05',
            "VZ7-2025-000002,prd-0001,accepted,,2025-10-05",
            "VZ7-2025-000003,prd-0001,accepted,,2025-10-5"]
    pack = events_pack(tmp_path, shipments=shipments(vezha(3)), inspections=inspections(rows))
    error = only(refused(deal, pack, signer))
    assert (error.file, error.row, error.column) == ("inspections.csv", 5, "inspected_on")


@pytest.mark.parametrize(
    ("table", "change", "where"),
    [
        ("shipment", "lot_id = 'LOT-Z'", "serial = 'VZ7-2025-000002'"),
        ("inspection", "result = 'accepted'", "serial = 'VZ7-2025-000003'"),
        ("case_line", "quantity = 11", "case_id = 'UA-D-SAA' AND line = 1"),
        ("case_delivery", "quantity = 5", "delivery_id = 'dlv-1'"),
        ("payment", "amount = 1000001", "payment_id = 'pay-1'"),
    ],
)
def test_an_edited_event_row_fails_verify_naming_its_leaf(  # noqa: PLR0917 (fixtures)
    deal: Engine, tmp_path: Path, signer: keys.Signer, table: str, change: str, where: str
) -> None:
    run(deal, events_pack(
        tmp_path, cases=CASES, case_deliveries=DELIVERIES, payments=PAYMENTS,
        shipments=shipments(vezha(3)),
        inspections=inspections([f"{s},prd-0001,{r},{'bent arm' if r == 'rejected' else ''},"
                                 f"2025-10-05" for s, r in zip(
                                     serials(3), ("accepted", "accepted", "rejected"),
                                     strict=True)])), signer)
    with Session(deal) as session:
        assert audit.verify(session, signer.verifier()).ok
    with deal.begin() as connection:
        leaf = connection.execute(text(f"SELECT leaf_index FROM {table} WHERE {where}")
                                  ).scalar_one()
        connection.execute(text(f"UPDATE {table} SET {change} WHERE {where}"))
    report = verified(deal, signer.verifier())
    assert not report.ok
    assert report.first_bad_leaf == leaf
    assert f"{table} row" in (report.problem or "")
