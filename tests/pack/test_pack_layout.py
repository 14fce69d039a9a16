"""The pack package keeps its place in the architecture, and its documentation up to date."""

from __future__ import annotations

import ast
from pathlib import Path

import dronedeal.pack
from dronedeal.pack import DEMAND, IMPORT_ORDER, TABLES

PACK = Path(dronedeal.pack.__file__).parent
DOC = Path(__file__).resolve().parents[2] / "docs" / "pack-format.md"
ALLOWED_OURS = ("dronedeal.core", "dronedeal.pack")


def test_pack_imports_only_core_of_ours_and_no_database() -> None:
    for path in PACK.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert not name.startswith("sqlalchemy"), path.name
                if name.startswith("dronedeal"):
                    assert name.startswith(ALLOWED_OURS), f"{path.name} imports {name}"


def test_tables_come_after_what_they_refer_to() -> None:
    for position, name in enumerate(IMPORT_ORDER):
        if name in TABLES:
            assert set(TABLES[name].depends_on) <= set(IMPORT_ORDER[:position]), name


def test_docs_name_every_table_and_column() -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in [*TABLES.values(), DEMAND]:
        assert f"`{spec.name}`" in text, spec.name
        for column in spec.columns:
            name = column.name + ("?" if column.optional else "")
            assert f"`{name}`" in text, f"{spec.name}.{name}"
