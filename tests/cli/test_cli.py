"""The `dronedeal` command as a user drives it: exit codes, error lines, summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.packs import MINIMAL_PACK, write_pack
from typer.testing import CliRunner

from dronedeal.cli.main import app


@pytest.fixture
def cli(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    runner = CliRunner()
    key = tmp_path / "key" / "signing.key"

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, ["--db", db_url, "--key", str(key), *args])

    return invoke


def test_init_then_import_then_reimport(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("init")
    assert result.exit_code == 0, result.output
    assert "schema at revision" in result.stdout
    pack = write_pack(tmp_path / "pack")
    first = cli("import", str(pack), "--format", "json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["created"]["product"] == 4
    second = cli("import", str(pack), "--format", "json")
    assert json.loads(second.stdout)["leaves"] == 0


def test_refused_import_prints_file_row_column_and_exits_1(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    products = MINIMAL_PACK["products.csv"].replace("4200.00", "\"4,200.00\"")
    pack = write_pack(tmp_path / "pack", products__csv=products)
    result = cli("import", str(pack))
    assert result.exit_code == 1
    first_line = result.stderr.splitlines()[0]
    assert first_line.startswith("products.csv:2: unit_price: ")
    assert "thousands separator" in first_line
    assert "nothing was imported" in result.stderr


def test_errors_as_json(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    products = MINIMAL_PACK["products.csv"].replace("uas.interceptor", "uas.hovercraft")
    pack = write_pack(tmp_path / "pack", products__csv=products)
    result = cli("import", str(pack), "--format", "json")
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["total"] == 1
    assert body["errors"][0] | {"message": ""} == {
        "file": "products.csv", "row": 2, "column": "category", "message": ""}


def test_at_most_100_error_lines_then_the_total(  # type: ignore[no-untyped-def]
    cli, tmp_path: Path
) -> None:
    header = MINIMAL_PACK["parties.csv"].splitlines()[0]
    rows = [f"p-{i},Party {i},state,XX," for i in range(150)]
    pack = write_pack(tmp_path / "pack", files={"parties.csv": "\n".join([header, *rows])})
    result = cli("import", str(pack))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 101
    assert all(": country: " in line for line in lines[:100])
    assert "150 errors in total" in lines[100]


def test_dry_run_writes_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pack = write_pack(tmp_path / "pack")
    dry = cli("import", str(pack), "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)["dry_run"] is True
    real = cli("import", str(pack), "--format", "json")
    assert json.loads(real.stdout)["created"]["party"] == 6


def test_history_shows_every_version(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cli("import", str(write_pack(tmp_path / "v1")))
    products = MINIMAL_PACK["products.csv"].replace("4200.00,USD,500", "4350.00,USD,500")
    cli("import", str(write_pack(tmp_path / "v2", products__csv=products)))
    result = cli("history", "product", "prd-0001", "--format", "json")
    assert result.exit_code == 0, result.output
    versions = json.loads(result.stdout)["versions"]
    assert [v["record"]["unit_price"] for v in versions] == ["4200.00", "4350.00"]


def test_usage_errors_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("import", str(tmp_path / "no-such-folder")).exit_code == 2
    assert cli("import").exit_code == 2
    assert cli("no-such-command").exit_code == 2


def test_demo_prints_a_summary(cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    result = cli("demo", "--format", "json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    counts = summary["counts"]
    assert counts["agreements"] == 3
    assert counts["manufacturers"] >= 40
    assert counts["products"] >= 120
    assert counts["orders"] > 0
    assert counts["licenses"] > 0
    assert {a["agreement_id"] for a in summary["agreements"]} >= {"ua-us-2025", "dk-ua-2025"}
    assert (tmp_path / "demo-pack" / "parties.csv").exists()
    allocation = summary["allocation"]  # the demo shows an allocation of its demand file
    assert allocation["orders"] > 0
    assert allocation["suppliers"] > 1
    assert allocation["unmet"] == []
