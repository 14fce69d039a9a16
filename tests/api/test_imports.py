"""Deal-pack imports over HTTP: the same validation, messages and atomicity as the CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

from openpyxl import Workbook
from tests.api.conftest import DEAL_PACK, Deal
from tests.dbdump import dump
from tests.packs import write_pack
from typer.testing import CliRunner

from dronedeal.api import create_app
from dronedeal.cli.main import app as cli

IMPORTS = "/api/v1/imports"


def files(pack: dict[str, str]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, text.encode(), "text/csv")) for name, text in pack.items()]


def test_a_good_pack_lands_whole_and_a_second_time_changes_nothing(empty_api: Deal) -> None:
    api = empty_api
    response = api.client.post(IMPORTS, files=files(DEAL_PACK), headers=api.headers("admin"))
    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["created"]["party"] == 7
    assert summary["created"]["order"] == 2
    assert summary["leaves"] > 0
    orders = api.client.get("/api/v1/orders", headers=api.headers("auditor")).json()
    assert [o["order_id"] for o in orders["items"]] == ["ord-0001", "ord-0002"]
    before = dump(api.engine)
    again = api.client.post(IMPORTS, files=files(DEAL_PACK), headers=api.headers("admin"))
    assert again.status_code == 200
    assert again.json()["leaves"] == 0
    assert dump(api.engine) == before


def test_a_workbook_is_a_pack_file_too(empty_api: Deal) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "parties"
    sheet.append(["party_id", "name", "kind", "country", "identifier"])
    sheet.append(["us-dod", "US Department of Defense", "state", "US", None])
    buffer = io.BytesIO()
    book.save(buffer)
    response = empty_api.client.post(
        IMPORTS, headers=empty_api.headers("admin"),
        files=[("files", ("deal.xlsx", buffer.getvalue(),
                          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))])
    assert response.status_code == 200, response.text
    assert response.json()["created"]["party"] == 1


def test_a_bad_pack_is_422_with_the_clis_row_errors_and_writes_nothing(
        empty_api: Deal, db_url: str, tmp_path: Path) -> None:
    api = empty_api
    bad = {**DEAL_PACK,
           "products.csv": DEAL_PACK["products.csv"].replace("4200.00", "4200.005"),
           "orders.csv": DEAL_PACK["orders.csv"].replace("2026-06-30", "2026-06-31")}
    before = dump(api.engine)
    response = api.client.post(IMPORTS, files=files(bad), headers=api.headers("admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 422
    assert dump(api.engine) == before

    folder = write_pack(tmp_path / "bad", bad)
    result = CliRunner().invoke(cli, ["--db", db_url, "--key", str(api.key), "import",
                                      str(folder), "--format", "json"])
    assert result.exit_code == 1
    assert problem["errors"] == json.loads(result.stdout)["errors"]
    columns = {(e["file"], e["column"]) for e in problem["errors"]}
    assert ("products.csv", "unit_price") in columns
    assert ("orders.csv", "due_on") in columns


def test_a_dry_run_reports_and_writes_nothing(empty_api: Deal) -> None:
    before = dump(empty_api.engine)
    response = empty_api.client.post(IMPORTS, params={"dry_run": "true"},
                                     files=files(DEAL_PACK), headers=empty_api.headers("admin"))
    assert response.status_code == 200
    assert response.json()["dry_run"] is True
    assert response.json()["created"]["party"] == 7
    assert dump(empty_api.engine) == before


def test_a_file_name_with_a_folder_is_refused(empty_api: Deal) -> None:
    response = empty_api.client.post(
        IMPORTS, headers=empty_api.headers("admin"),
        files=[("files", ("../parties.csv", b"party_id\n", "text/csv"))])
    assert response.status_code == 422
    assert "plain pack file name" in response.json()["detail"]


def test_a_body_over_the_limit_is_413_and_imports_nothing(
        empty_api: Deal, db_url: str) -> None:
    from fastapi.testclient import TestClient

    small = create_app(db_url, key=empty_api.key, max_upload_mb=0.001)  # about 1 KB
    before = dump(empty_api.engine)
    with TestClient(small) as client:
        response = client.post(IMPORTS, files=files(DEAL_PACK), headers=empty_api.headers("admin"))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert dump(empty_api.engine) == before


def test_a_manufacturer_imports_its_own_shipments_and_nobody_elses(deal: Deal) -> None:
    manifest = {"shipments.csv": "serial,product_id,lot_id,order_id,license_id,shipped_on\n"
                                 "VZ7-0100,prd-0001,LOT-C,ord-0001,lic-0001,2025-11-02\n"}
    before = dump(deal.engine)
    foreign = deal.client.post(IMPORTS, files=files(manifest),
                               headers=deal.headers("manufacturer_2"))
    assert foreign.status_code == 403
    assert "VZ7-0100" in foreign.json()["detail"]
    assert dump(deal.engine) == before
    own = deal.client.post(IMPORTS, files=files(manifest), headers=deal.headers("manufacturer_1"))
    assert own.status_code == 200, own.text
    assert own.json()["created"]["shipment"] == 1
    unit = deal.client.get("/api/v1/units/VZ7-0100", headers=deal.headers("manufacturer_1"))
    assert unit.json()["shipment"]["lot_id"] == "LOT-C"
