"""`dronedeal allocate` as a user drives it: the orders CSV, JSON, exit codes, errors."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.packs import write_pack
from typer.testing import CliRunner, Result

from dronedeal.cli.allocate import allocate
from dronedeal.cli.main import app

if not any(command.callback is allocate for command in app.registered_commands):
    app.command()(allocate)  # until `cli.main` mounts it

ORDERS = ["order_id", "agreement_id", "flow_id", "buyer_id", "supplier_id", "product_id",
          "quantity", "unit_price", "currency", "due_on"]
HEADER = "demand_id,flow_id,category,quantity,due_on,max_unit_price,currency\n"
# prd-0001 (ua-mfr-001, uas.interceptor, 4200.00 USD) makes 500 a month; the minimal
# pack's ord-0001 takes 1000 of them in March 2026.
DEMAND = HEADER + "d1,drones-to-us,uas.interceptor,300,2026-02-28,,\n"

Invoke = Callable[..., Result]


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Invoke:
    runner = CliRunner()
    key = tmp_path / "key" / "signing.key"

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", db_url, "--key", str(key), *args])

    return invoke


@pytest.fixture
def deal(cli: Invoke, tmp_path: Path) -> Path:
    """The minimal pack imported; returns the demand file."""
    imported = cli("import", str(write_pack(tmp_path / "pack")))
    assert imported.exit_code == 0, imported.output
    path = tmp_path / "demand.csv"
    path.write_text(DEMAND, encoding="utf-8")
    return path


def allocate_args(demand: Path, *extra: str) -> list[str]:
    return ["allocate", "--agreement", "ua-us-2025", "--flow", "drones-to-us",
            "--demand", str(demand), "--on", "2026-01-10", *extra]


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_orders_csv_on_stdout_imports_cleanly(cli: Invoke, deal: Path, tmp_path: Path) -> None:
    result = cli(*allocate_args(deal, "--max-share", "1"))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ",".join(ORDERS)
    assert rows(result.stdout) == [{
        "order_id": "alloc-d1-prd-0001", "agreement_id": "ua-us-2025",
        "flow_id": "drones-to-us", "buyer_id": "us-dod", "supplier_id": "ua-mfr-001",
        "product_id": "prd-0001", "quantity": "300", "unit_price": "4200.00",
        "currency": "USD", "due_on": "2026-02-28"}]
    assert "total cost 1260000.00 USD" in result.stderr
    pack = tmp_path / "proposed"
    pack.mkdir()
    (pack / "orders.csv").write_text(result.stdout, encoding="utf-8")
    imported = cli("import", str(pack), "--format", "json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["created"]["order"] == 1


def test_out_file_and_summary_on_stdout(cli: Invoke, deal: Path, tmp_path: Path) -> None:
    out = tmp_path / "orders.csv"
    result = cli(*allocate_args(deal, "--max-share", "1", "--out", str(out)))
    assert result.exit_code == 0, result.output
    assert [r["quantity"] for r in rows(out.read_text(encoding="utf-8"))] == ["300"]
    assert "written to" in result.stdout
    assert "units per supplier" in result.stdout
    assert "order_id" not in result.stdout


def test_json_output(cli: Invoke, deal: Path) -> None:
    result = cli(*allocate_args(deal, "--max-share", "1", "--format", "json"))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert list(body) == ["agreement_id", "flow_id", "currency", "total_cost", "orders",
                          "unmet", "summary"]
    assert (body["agreement_id"], body["flow_id"], body["currency"], body["total_cost"]) == (
        "ua-us-2025", "drones-to-us", "USD", "1260000.00")
    assert list(body["orders"][0]) == ORDERS
    assert body["orders"][0]["unit_price"] == "4200.00"
    assert body["orders"][0]["quantity"] == 300
    assert body["unmet"] == []
    assert body["summary"]["suppliers"] == [
        {"supplier_id": "ua-mfr-001", "units": 300, "share": "1.0000", "cost": "1260000.00"}]


def test_infeasible_demand_exits_1_and_explains(cli: Invoke, deal: Path) -> None:
    # One maker, at most ⌊0.4 × 300⌋ = 120 units of the line.
    result = cli(*allocate_args(deal))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "d1: 180 unit(s) unmet, constraint share_cap" in result.stderr
    assert "⌊0.4 × 300⌋ = 120" in result.stderr
    assert "run again with --partial" in result.stderr
    as_json = cli(*allocate_args(deal, "--format", "json"))
    assert as_json.exit_code == 1
    body = json.loads(as_json.stdout)
    assert body["orders"] == []
    assert body["total_cost"] == "0.00"
    assert body["unmet"] == [{"demand_id": "d1", "units": 180, "constraint": "share_cap"}]


def test_partial_writes_the_best_partial_allocation(cli: Invoke, deal: Path) -> None:
    result = cli(*allocate_args(deal, "--partial"))
    assert result.exit_code == 0, result.output
    assert [r["quantity"] for r in rows(result.stdout)] == ["120"]
    assert "d1: 180 unit(s) unmet, constraint share_cap" in result.stderr
    assert "best partial allocation" in result.stderr


def test_a_refused_demand_names_file_row_and_column(cli: Invoke, deal: Path) -> None:
    deal.write_text(HEADER + "d1,drones-to-us,uas.hover,300,2026-02-28,,\n"
                             "d2,drones-to-us,air_defense,3,2026-02-28,,\n", encoding="utf-8")
    result = cli(*allocate_args(deal))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("demand.csv:2: category: ")
    assert lines[1] == ("demand.csv:3: category: category air_defense is not traded in flow "
                        "drones-to-us (uas.*, cuas, training, tech_transfer)")
    assert lines[2] == "2 error(s); nothing was allocated"
    as_json = cli(*allocate_args(deal, "--format", "json"))
    assert json.loads(as_json.stdout)["total"] == 2


@pytest.mark.parametrize("extra", [
    ["--max-share", "1.5"], ["--max-share", "0"], ["--max-share", "x"],
    ["--on", "2026-13-01"], ["--flow", "drones"], ["--agreement", "ua-xx"],
])
def test_usage_errors_exit_2(cli: Invoke, deal: Path, extra: list[str]) -> None:
    result = cli(*allocate_args(deal, *extra))
    assert result.exit_code == 2, result.output


def test_a_missing_demand_file_or_option_exits_2(cli: Invoke, deal: Path,
                                                 tmp_path: Path) -> None:
    assert cli(*allocate_args(tmp_path / "nowhere.csv")).exit_code == 2
    assert cli("allocate", "--flow", "drones-to-us", "--demand", str(deal)).exit_code == 2


@pytest.mark.slow
def test_the_demo_demand_is_allocated(cli: Invoke, tmp_path: Path) -> None:
    from dronedeal.demo.generator import DEMAND_FILE, write_demo_pack

    pack = tmp_path / "demo-pack"
    write_demo_pack(pack, scale="small", seed=2025)
    assert cli("import", str(pack)).exit_code == 0
    # The demo's demand is due from 2026-03 on; allocate it as of the deal's first month.
    result = cli("allocate", "--agreement", "ua-us-2025", "--flow", "drones-to-us",
                 "--demand", str(pack / DEMAND_FILE), "--on", "2025-09-01", "--format", "json")
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["unmet"] == []
    wanted = {r["demand_id"]: int(r["quantity"])
              for r in rows((pack / DEMAND_FILE).read_text(encoding="utf-8"))}
    allocated: dict[str, int] = {}
    for line in body["summary"]["lines"]:
        allocated[line["demand_id"]] = line["allocated"]
    assert allocated == wanted
    for supplier in body["summary"]["suppliers"]:
        assert supplier["units"] > 0
