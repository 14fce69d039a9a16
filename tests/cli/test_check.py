"""`dronedeal check` and `dronedeal licenses` as a user drives them: JSON shapes, tables,
exit codes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from click.testing import Result
from sqlalchemy import Engine
from tests.compliance_seed import ensure_compliance_tables, part, product, seed
from typer.testing import CliRunner

from dronedeal.cli.check import check, licenses
from dronedeal.core.records import License
from dronedeal.services.licenses import draw_down
from dronedeal.store.db import session_factory

app = typer.Typer(pretty_exceptions_enable=False)


@app.callback()
def _options(ctx: typer.Context,
             db: Annotated[str | None, typer.Option("--db")] = None) -> None:
    ctx.ensure_object(dict)
    ctx.obj["db"] = db


app.command()(check)
app.command()(licenses)

LICENSE = License("lic-1", "UA", "ua-mfr-001", "us-dod", "prd-ok", 100, 420_000_00, "USD",
                  dt.date(2025, 9, 1), dt.date(2026, 12, 31))


@pytest.fixture
def cli(engine: Engine, db_url: str):  # type: ignore[no-untyped-def]
    ensure_compliance_tables(engine)
    with session_factory(engine)() as s, s.begin():
        seed(s, [product("prd-ok"), product("prd-cn", name="Obriy")],
             [part("prd-ok", "CAM-1", "camera"),
              part("prd-cn", "FC-9", "flight_controller", manufacturer="Shenzhen FC Co., Ltd.",
                   manufacturer_country="CN", origin_country="CN")],
             licenses=[LICENSE])
    runner = CliRunner(env={"COLUMNS": "250"})  # a wide terminal: table cells unwrapped

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", db_url, *args])

    return invoke


def test_check_json_lists_findings_and_exits_1_when_one_blocks(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "--on", "2026-03-01", "--format", "json")
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    blocking = [f for f in body["findings"] if f["severity"] == "block"]
    assert blocking == [{
        "product_id": "prd-cn", "part_number": "FC-9", "ruleset_id": "us-uas-supply-chain",
        "rule_id": "US-848-HW",
        "severity": "block",
        "citation": "FY2020 NDAA §848(a)(1)(B) (10 U.S.C. 4871 note); place of manufacture "
                    "per FAR 52.225-18",
        "message": "flight_controller FC-9 by Shenzhen FC Co., Ltd. is manufactured in CN by a "
                   "maker domiciled in CN; a covered foreign country is involved",
        "evaluated_on": "2026-03-01"}]
    assert any(f["part_number"] is None for f in body["findings"])


def test_check_before_any_blocking_rule_exits_0(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "--on", "2019-12-19", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"findings": []}


def test_check_table_shows_rule_and_citation(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("check", "--on", "2026-03-01", "--agreement", "ua-us-2025")
    assert result.exit_code == 1
    assert "US-848-HW" in result.stdout
    assert "§848(a)(1)(B)" in result.stdout
    assert "1 blocking (1 product(s) blocked)" in result.stderr


def test_check_usage_errors_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    assert cli("check", "--on", "2026-02-30").exit_code == 2
    unknown = cli("check", "--agreement", "nope")
    assert unknown.exit_code == 2
    assert "no agreement 'nope'" in unknown.stderr


def test_check_refuses_a_malformed_extra_ruleset(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "rulesets"
    folder.mkdir()
    (folder / "bad.yaml").write_text(
        "ruleset_id: bad\ntitle: Bad\nrules:\n  - rule_id: B-1\n    citation: x\n"
        "    severity: block\n    effective_from: 2024-01-01\n    subject: product\n"
        "    violation: product.category ==\n    message: m\n", encoding="utf-8")
    result = cli("check", "--rulesets", str(folder))
    assert result.exit_code == 1
    assert result.stderr.startswith("rulesets/bad.yaml:9: B-1.violation: rule B-1: CEL error "
                                    "at 1:20 of the violation expression")


def test_licenses_lists_what_is_left(cli, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    with session_factory(engine)() as s, s.begin():
        draw_down(s, license_id="lic-1", product_id="prd-ok", exporter_id="ua-mfr-001",
                  end_user_id="us-dod", on=dt.date(2026, 1, 5), quantity=30,
                  value_minor=126_000_00, reference="lot-1")
    result = cli("licenses", "--format", "json")
    assert result.exit_code == 0, result.output
    [lic] = json.loads(result.stdout)["licenses"]
    assert (lic["remaining_quantity"], lic["remaining_value"]) == (70, "294000.00")
    table = cli("licenses", "--product", "prd-ok")
    assert "70 of 100" in table.stdout
    assert "294000.00 of 420000.00 USD" in table.stdout
