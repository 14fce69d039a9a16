"""`dronedeal publish ocds` as a user drives it: JSON on stdout or in a file, the policy
option, exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import pytest
import typer
from sqlalchemy import Engine
from tests.packs import write_pack
from typer.testing import CliRunner, Result

from dronedeal.cli.publish import publish_app
from dronedeal.services import keys
from dronedeal.services.importer import import_pack
from dronedeal.store.db import session_factory

app = typer.Typer(pretty_exceptions_enable=False)


@app.callback()
def _options(ctx: typer.Context,
             db: Annotated[str | None, typer.Option("--db")] = None,
             key: Annotated[Path | None, typer.Option("--key")] = None) -> None:
    ctx.ensure_object(dict)
    ctx.obj["db"] = db
    ctx.obj["key"] = key


app.add_typer(publish_app, name="publish")

ORDERS = ("order_id,agreement_id,flow_id,buyer_id,supplier_id,product_id,quantity,"
          "unit_price,currency,due_on\n") + """\
ord-1,ua-us-2025,drones-to-us,us-dod,ua-mfr-001,prd-0001,120,4200.00,USD,2026-03-31
ord-2,ua-us-2025,weapons-to-ua,ua-mod,us-prime-001,prd-0004,2,4100000.00,USD,2026-06-30
"""

Invoke = Callable[..., Result]


@pytest.fixture
def cli(engine: Engine, db_url: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.delenv("DRONEDEAL_PUBLICATION_SALT", raising=False)
    monkeypatch.delenv("DRONEDEAL_PUBLICATION_POLICY", raising=False)
    key = tmp_path / "keys" / "signing.key"
    signer = keys.create_key(key, "test.local/log")
    with session_factory(engine)() as session, session.begin():
        import_pack(session, write_pack(tmp_path / "pack", orders__csv=ORDERS), signer)
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, ["--db", db_url, "--key", str(key), "publish", "ocds",
                                   *args])

    return invoke


def test_public_package_goes_to_stdout_with_pseudonyms(cli: Invoke, tmp_path: Path) -> None:
    result = cli("--agreement", "ua-us-2025", "--audience", "public")
    assert result.exit_code == 0, result.output
    package = json.loads(result.stdout, parse_float=Decimal)
    assert package["version"] == "1.1"
    assert {r["ocid"] for r in package["releases"]} == {
        "ocds-xxxxxx-agreement-ua-us-2025", "ocds-xxxxxx-order-ord-1",
        "ocds-xxxxxx-order-ord-2"}
    for secret in ("Vezha Aero LLC", "ua-mfr-001", "UA-EDRPOU-40000001", "Liberty Arms",
                   "Vezha-7", "4200.00"):
        assert secret not in result.stdout
    assert (tmp_path / "keys" / "publication.salt").exists()
    again = cli("--agreement", "ua-us-2025", "--audience", "public")
    assert json.loads(again.stdout)["releases"] == json.loads(result.stdout)["releases"]


def test_auditor_package_to_a_file_keeps_amounts_exact(cli: Invoke, tmp_path: Path) -> None:
    out = tmp_path / "auditor.json"
    result = cli("--agreement", "ua-us-2025", "--audience", "auditor", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    text = out.read_text(encoding="utf-8")
    assert '"amount": 504000.00' in text
    assert '"amount": 4200.00' in text
    assert "Vezha Aero LLC" in text
    assert "withheldInformation" not in text


def test_a_replaced_policy_names_a_manufacturer_that_agreed(cli: Invoke, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("""policy_id: open-prime
audiences:
  public:
    withhold:
      manufacturer_identity:
        rationale: Makers are targets.
        exceptions: [us-prime-001]
  auditor: {withhold: {}}
""", encoding="utf-8")
    result = cli("--agreement", "ua-us-2025", "--audience", "public", "--policy", str(policy))
    assert result.exit_code == 0, result.output
    assert "Liberty Arms Inc." in result.stdout
    assert "Vezha Aero LLC" not in result.stdout
    assert '"amount": 4200.00' in result.stdout  # unit prices are not withheld by this policy


def test_unknown_agreement_exits_1(cli: Invoke) -> None:
    result = cli("--agreement", "nope", "--audience", "auditor")
    assert result.exit_code == 1
    assert "no agreement 'nope'" in result.stderr


@pytest.mark.parametrize("args", [
    ["--audience", "press"],
    ["--audience", "public", "--policy", "/nonexistent/policy.yaml"],
    ["--audience", "public", "--out", "/nonexistent/folder/out.json"],
])
def test_usage_errors_exit_2(cli: Invoke, args: list[str]) -> None:
    result = cli("--agreement", "ua-us-2025", *args)
    assert result.exit_code == 2, result.output
