"""Import a deal pack: parse, check references against the store, diff, write, log.

The pipeline is `read_pack → check_references → diff against the stored versions →
write typed rows and versions → append one log leaf per new version`. It keeps
invariants 4 and 5 of SPEC §3: the caller runs it inside one transaction, so a pack
lands whole or not at all, and a record whose canonical document equals its stored
version is left alone (re-importing a pack is a no-op). Any error refuses the whole
pack with every error found, before anything is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from dronedeal.core.canonical import canonical_json
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.core.fx import MissingRateError, RateTable
from dronedeal.core.records import MasterRecord
from dronedeal.pack import (
    MasterView,
    ParsedPack,
    TableSource,
    check_references,
    read_pack,
    resolve_defaults,
)
from dronedeal.services import audit
from dronedeal.services.deliveries import EVENT_ORDER, LEAF_KINDS, import_events
from dronedeal.services.keys import Signer
from dronedeal.store import master

#: pack table -> record kind, in the order they are written
TABLE_KINDS = {
    "parties": "party",
    "products": "product",
    "bom": "bom_line",
    "agreements": "agreement",
    "orders": "order",
    "licenses": "license",
    "fx_rates": "fx_rate",
}


@dataclass
class ImportSummary:
    """What an import did (or, in a dry run, would do), per record kind."""

    files: list[str]
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    removed: dict[str, int] = field(default_factory=dict)
    leaves: int = 0
    tree_size: int = 0
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"files": self.files, "created": self.created, "updated": self.updated,
                "unchanged": self.unchanged, "removed": self.removed, "leaves": self.leaves,
                "tree_size": self.tree_size, "dry_run": self.dry_run}


def stored_master(session: Session) -> MasterView:
    """Every master record in the store, keyed by natural key."""
    return MasterView(
        parties={r.key: r for r in master.load_parties(session)},
        products={r.key: r for r in master.load_products(session)},
        bom={r.key: r for r in master.load_bom(session)},
        agreements={r.key: r for r in master.load_agreements(session)},
        orders={r.key: r for r in master.load_orders(session)},
        licenses={r.key: r for r in master.load_licenses(session)},
        fx_rates={r.key: r for r in master.load_fx_rates(session)},
    )


def version_leaf(kind: str, key: str, version: int, document: dict[str, Any] | None) -> str:
    """The log leaf that announces one version of a master record (None: removed)."""
    return canonical_json({"kind": kind, "key": key, "version": version, "record": document})


def import_pack(
    session: Session, folder: Path, signer: Signer, *, dry_run: bool = False
) -> ImportSummary:
    """Import the pack in `folder`; raise RefusedError with every error, writing nothing.

    With `dry_run` the writes still happen, so that a dry run checks exactly what a real
    one would, and the caller rolls the transaction back.
    """
    pack = read_pack(folder)
    errors = list(pack.errors)
    stored = stored_master(session)
    if not errors:
        pack = resolve_defaults(stored, pack)
        merged = stored.overlay(pack)
        errors.extend(check_references(merged, pack))
        errors.extend(_check_order_rates(merged, pack))
    if errors:
        raise RefusedError(sorted(errors))
    summary = ImportSummary(files=list(pack.files), dry_run=dry_run)
    leaves: list[tuple[str, str]] = []
    versions: list[dict[str, Any]] = []
    for table, kind in TABLE_KINDS.items():
        records = [located.record for located in getattr(pack, table)]
        removed = _removed_bom(stored, records) if kind == "bom_line" else []
        _apply(session, kind, records=records, summary=summary, leaves=leaves,
               versions=versions, removed=removed)
    if leaves:
        result = audit.append_leaves(session, leaves, signer)
        for offset, row in enumerate(versions):
            row["leaf_index"] = result.first_index + offset
        master.write_versions(session, versions)
        summary.tree_size = result.tree_size
    summary.leaves = len(leaves)
    _import_events(session, pack, signer, summary)
    return summary


def _import_events(session: Session, pack: ParsedPack, signer: Signer,
                   summary: ImportSummary) -> None:
    """The pack's event tables, after its master data, in the same transaction
    (`services.deliveries`): refused as a whole like master data."""
    sources: dict[str, TableSource] = {table: pack.sources[table] for table in EVENT_ORDER
                                       if table in pack.sources}
    if not sources:
        return
    events = import_events(session, sources, signer)
    for table, source in sources.items():
        if source.file not in summary.files:
            summary.files.append(source.file)
        kind = LEAF_KINDS[table]
        summary.created[kind] = events.created.get(table, 0)
        summary.unchanged[kind] = events.unchanged.get(table, 0)
        summary.updated[kind] = 0
    summary.created["transfer"] = events.transfers
    summary.updated["transfer"] = summary.unchanged["transfer"] = 0
    summary.leaves += events.leaves
    if events.tree_size is not None:
        summary.tree_size = events.tree_size


def _check_order_rates(merged: MasterView, pack: ParsedPack) -> list[RowError]:
    """Every order's value must convert into its agreement's currency on `signed_on`
    (SPEC §5 ordered value); a missing rate refuses the order's row."""
    rates = RateTable(merged.fx_rates.values())
    errors = []
    for located in pack.orders:
        order = located.record
        agreement = merged.agreements.get(order.agreement_id)
        if agreement is None:
            continue
        try:
            rates.applied(order.currency, agreement.currency, agreement.signed_on)
        except MissingRateError as missing:
            errors.append(RowError(located.file, located.row, "currency",
                                   f"{missing} (the agreement {agreement.agreement_id} "
                                   f"values orders at its signing date)"))
    return errors


def _removed_bom(stored: MasterView, records: Sequence[MasterRecord]) -> list[str]:
    """BOM lines of the products this pack lists that the pack no longer lists."""
    listed_products = {r.key.split("/", 1)[0] for r in records}
    listed = {r.key for r in records}
    return sorted(key for key in stored.bom
                  if key.split("/", 1)[0] in listed_products and key not in listed)


def _apply(
    session: Session,
    kind: str,
    *,
    records: Sequence[MasterRecord],
    summary: ImportSummary,
    leaves: list[tuple[str, str]],
    versions: list[dict[str, Any]],
    removed: Sequence[str],
) -> None:
    current = master.current_documents(session, kind)
    created: list[tuple[MasterRecord, int]] = []
    updated: list[tuple[MasterRecord, int]] = []
    unchanged = 0
    for record in records:
        document = record.document()
        text = canonical_json(document)
        previous = current.get(record.key)
        if previous is not None and previous[1] == text:
            unchanged += 1
            continue
        version = previous[0] + 1 if previous else 1
        if previous is None or previous[1] is None:
            created.append((record, version))
        else:
            updated.append((record, version))
        leaves.append((kind, version_leaf(kind, record.key, version, document)))
        versions.append({"kind": kind, "record_key": record.key, "version": version,
                         "document": text})
    for key in removed:
        version = current[key][0] + 1
        leaves.append((kind, version_leaf(kind, key, version, None)))
        versions.append({"kind": kind, "record_key": key, "version": version,
                         "document": None})
        master.remove_record(session, kind, key)
    master.insert_records(session, kind, created)
    for record, version in updated:
        master.update_record(session, kind, record, version)
    summary.created[kind] = len(created)
    summary.updated[kind] = len(updated)
    summary.unchanged[kind] = unchanged
    if removed:
        summary.removed[kind] = len(removed)
