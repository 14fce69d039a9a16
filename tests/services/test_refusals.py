"""Every class of bad input named in the foundation issue refuses the whole pack with
the exact file, row and column, and leaves the database exactly as it was."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tests.dbdump import dump
from tests.packs import MINIMAL_PACK, write_pack

from dronedeal.core.errors import RefusedError
from dronedeal.services import keys
from dronedeal.services.importer import import_pack

P, PR, ORD, A = (MINIMAL_PACK[n] for n in ("parties.csv", "products.csv", "orders.csv",
                                           "agreements.yaml"))

CASES: dict[str, tuple[dict[str, str | None], tuple[str, int, str], str]] = {
    "type": ({"products.csv": PR.replace("4200.00,USD,500", "4200.00,USD,lots")},
             ("products.csv", 2, "monthly_capacity"), ""),
    "id-syntax": ({"bom.csv": MINIMAL_PACK["bom.csv"].replace("FC-100", "FC 100!")},
                  ("bom.csv", 2, "part_number"), ""),
    "country": ({"parties.csv": P.replace("Vezha Aero LLC,manufacturer,UA",
                                          "Vezha Aero LLC,manufacturer,XU")},
                ("parties.csv", 5, "country"), ""),
    "currency": ({"products.csv": PR.replace("4200.00,USD", "4200.00,USX")},
                 ("products.csv", 2, "currency"), ""),
    "vocabulary": ({"products.csv": PR.replace("uas.interceptor", "uas.hovercraft")},
                   ("products.csv", 2, "category"), ""),
    "date": ({"orders.csv": ORD.replace("2026-03-31", "2026-02-30")},
             ("orders.csv", 2, "due_on"), ""),
    "too-many-decimals": ({"products.csv": PR.replace("4200.00", "4200.001")},
                          ("products.csv", 2, "unit_price"), "decimals"),
    "thousands-separator": ({"products.csv": PR.replace("4200.00", '"4,200.00"')},
                            ("products.csv", 2, "unit_price"), "thousands separator"),
    "exponent": ({"products.csv": PR.replace("4200.00", "4.2e3")},
                 ("products.csv", 2, "unit_price"), "exponent"),
    "unknown-reference-across-files": (
        {"orders.csv": ORD.replace("prd-0003", "prd-9999")},
        ("orders.csv", 3, "product_id"), "prd-9999"),
    "duplicate-id": ({"parties.csv": P + "us-dod,US DoD again,state,US,\n"},
                     ("parties.csv", 8, "party_id"), "row 2"),
    "yaml-syntax": ({"agreements.yaml": A.replace("  currency: USD", "  currency: [USD")},
                    ("agreements.yaml", 4, "*"), "not valid YAML"),
    "missing-column": ({"parties.csv": P.replace("party_id,name,kind,", "party_id,name,")},
                       ("parties.csv", 1, "kind"), ""),
    "extra-column": ({"parties.csv": P.replace("identifier\n", "identifier,notes\n", 1)},
                     ("parties.csv", 1, "notes"), ""),
    "misspelt-column": ({"parties.csv": P.replace("country", "contry", 1)},
                        ("parties.csv", 1, "contry"), '"country"'),
    "empty-file": ({"parties.csv": ""}, ("parties.csv", 1, "*"), "empty"),
}


@pytest.fixture
def loaded(engine: Engine, tmp_path: Path, signer: keys.Signer) -> Engine:
    """A database holding the minimal pack."""
    with Session(engine) as session, session.begin():
        import_pack(session, write_pack(tmp_path / "v1"), signer)
    return engine


def refused(engine: Engine, folder: Path, signer: keys.Signer) -> list[tuple[str, int, str, str]]:
    before = dump(engine)
    with pytest.raises(RefusedError) as caught, Session(engine) as session, session.begin():
        import_pack(session, folder, signer)
    assert dump(engine) == before, "a refused pack changes nothing"
    return [(e.file, e.row, e.column, e.message) for e in caught.value.errors]


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_error_class_names_the_cell_and_changes_nothing(
    loaded: Engine, tmp_path: Path, signer: keys.Signer, case: str
) -> None:
    files, where, phrase = CASES[case]
    errors = refused(loaded, write_pack(tmp_path / case, **{
        name.replace(".", "__"): text for name, text in files.items()}), signer)
    located = [e for e in errors if e[:3] == where]
    assert located, f"expected an error at {where}, got {errors}"
    assert phrase in located[0][3]


def test_not_utf8(loaded: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    folder = write_pack(tmp_path / "latin1")
    # "é" as Latin-1 (one byte 0xE9), as a spreadsheet saving "CSV" rather than "CSV UTF-8"
    (folder / "parties.csv").write_bytes(P.encode().replace(b"Vezha", b"V\xe9zha"))
    errors = refused(loaded, folder, signer)
    assert ("parties.csv", 5, "*") in [e[:3] for e in errors]
    assert "UTF-8" in errors[0][3]


def test_xlsx_without_a_pack_sheet(loaded: Engine, tmp_path: Path, signer: keys.Signer) -> None:
    folder = write_pack(tmp_path / "xlsx")
    workbook = openpyxl.Workbook()
    workbook.active.title = "Sheet1"  # type: ignore[union-attr]
    workbook.save(folder / "deal.xlsx")
    errors = refused(loaded, folder, signer)
    assert ("deal.xlsx", 0, "*") in [e[:3] for e in errors]
