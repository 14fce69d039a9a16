"""`dronedeal position` and `dronedeal settle` as a user drives them: the JSON of SPEC §5
to the character, a readable table, and the exit codes (1 unknown agreement, 2 bad
option)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import typer
from sqlalchemy import Engine
from tests.services.test_position import (
    SCENARIO_EVENTS,
    SCENARIO_MASTER,
    SETTLE_DK_UA_2025_10_31,
    SETTLE_UA_US_2025_10_31,
    UA_US_2025_10_31,
    import_files,
)
from typer.testing import CliRunner, Result

from dronedeal.cli.reports import position, settle
from dronedeal.services import keys

app = typer.Typer(pretty_exceptions_enable=False)


@app.callback()
def _options(ctx: typer.Context,
             db: Annotated[str | None, typer.Option("--db")] = None) -> None:
    ctx.ensure_object(dict)
    ctx.obj["db"] = db


app.command()(position)
app.command()(settle)

Invoke = Callable[..., Result]


def _runner(db_url: str) -> Invoke:
    runner = CliRunner(env={"COLUMNS": "250"})

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", db_url, *args])

    return invoke


@pytest.fixture
def cli(engine: Engine, db_url: str, tmp_path: Path) -> Invoke:
    path = tmp_path / "keys" / "signing.key"
    keys.create_key(path, "dronedeal.test/log")
    import_files(engine, tmp_path, {**SCENARIO_MASTER, **SCENARIO_EVENTS},
                 keys.load_signer(path))
    return _runner(db_url)


def test_position_json_is_the_documented_shape(cli: Invoke) -> None:
    result = cli("position", "--agreement", "ua-us-2025", "--as-of", "2025-10-31",
                 "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == UA_US_2025_10_31


def test_settle_json_is_the_documented_shape(cli: Invoke) -> None:
    for agreement, expected in (("ua-us-2025", SETTLE_UA_US_2025_10_31),
                                ("dk-ua-2025", SETTLE_DK_UA_2025_10_31)):
        result = cli("settle", "--agreement", agreement, "--as-of", "2025-10-31",
                     "--format", "json")
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == expected


def test_position_table_shows_the_figures_a_deal_office_reads(cli: Invoke) -> None:
    result = cli("position", "--agreement", "ua-us-2025", "--as-of", "2025-10-31")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "ua-us-2025 position as of 2025-10-31 in USD" in out
    assert "used 162,000.00" in out
    for figure in ("102,000.00", "93,600.00", "82,140.00", "4,200.00", "-76,247.00",
                   "61,140.00", "urif (fund)", "4,107.00", "-46,247.00", "42,140.00"):
        assert figure in out, figure
    assert "reciprocity 0.4870, minimum 0.8: not met" in out


def test_settle_table_lists_the_payments(cli: Invoke) -> None:
    result = cli("settle", "--agreement", "dk-ua-2025", "--as-of", "2025-10-31")
    assert result.exit_code == 0, result.output
    assert "dk-mod" in result.stdout
    assert "10,000.00" in result.stdout
    assert "7,234.08" in result.stdout


def test_settle_before_any_transfer_has_nothing_to_pay(cli: Invoke) -> None:
    result = cli("settle", "--agreement", "ua-us-2025", "--as-of", "2025-08-01")
    assert result.exit_code == 0, result.output
    assert "every balance is zero; nothing to pay" in result.stdout
    as_json = cli("settle", "--agreement", "ua-us-2025", "--as-of", "2025-08-01",
                  "--format", "json")
    assert json.loads(as_json.stdout)["payments"] == []


@pytest.mark.parametrize("command", ["position", "settle"])
def test_unknown_agreement_exits_1_naming_the_known_ones(cli: Invoke, command: str) -> None:
    result = cli(command, "--agreement", "nope", "--format", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert ("error: no agreement 'nope' in the store (known: dk-ua-2025, ua-us-2025)"
            in result.stderr)


@pytest.mark.parametrize("command", ["position", "settle"])
@pytest.mark.parametrize("day", ["2025-13-01", "31/10/2025", "yesterday"])
def test_a_bad_date_is_a_usage_error(cli: Invoke, command: str, day: str) -> None:
    result = cli(command, "--agreement", "ua-us-2025", "--as-of", day)
    assert result.exit_code == 2
    assert "is not a date YYYY-MM-DD" in result.stderr


@pytest.mark.parametrize("command", ["position", "settle"])
def test_missing_agreement_option_is_a_usage_error(cli: Invoke, command: str) -> None:
    result = cli(command)
    assert result.exit_code == 2
    assert "--agreement" in result.stderr


def test_as_of_defaults_to_today(cli: Invoke) -> None:
    """Today is after every event of the scenario: everything counts."""
    result = cli("position", "--agreement", "ua-us-2025", "--format", "json")
    assert result.exit_code == 0, result.output
    drones = json.loads(result.stdout)["flows"][0]
    assert drones["accepted"] == {"units": 9, "value": "90540.00"}


def test_a_database_without_schema_exits_1(tmp_path: Path) -> None:
    invoke = _runner(f"sqlite:///{tmp_path / 'empty.db'}")
    result = invoke("position", "--agreement", "ua-us-2025")
    assert result.exit_code == 1
    assert "no schema yet" in result.stderr


def _schema(name: str) -> dict[str, Any]:
    """The JSON Schema block ```json <name> of docs/reports.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "reports.md").read_text(
        encoding="utf-8")
    found = re.search(rf"```json {name}\n(.*?)```", text, re.DOTALL)
    assert found, f"docs/reports.md has no {name} block"
    schema: dict[str, Any] = json.loads(found.group(1))
    return schema


@pytest.mark.parametrize(("agreement", "day"), [
    ("ua-us-2025", "2025-09-01"), ("ua-us-2025", "2025-10-31"), ("dk-ua-2025", "2025-10-31")])
def test_outputs_validate_against_the_schemas_of_docs_reports(
        cli: Invoke, agreement: str, day: str) -> None:
    for command, name in (("position", "position-schema"), ("settle", "settle-schema")):
        result = cli(command, "--agreement", agreement, "--as-of", day, "--format", "json")
        assert result.exit_code == 0, result.output
        jsonschema.validate(json.loads(result.stdout), _schema(name))


def test_the_schema_refuses_an_amount_given_as_a_number() -> None:
    document = json.loads(json.dumps(SETTLE_UA_US_2025_10_31))
    document["payments"][0]["amount"] = 61140.0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, _schema("settle-schema"))
