"""Compliance of products against their flows' rulesets: evaluate, store, check, gate.

`refresh` brings the stored evaluations up to date: for each ruleset and product it
computes the BOM digest (product, supplier name and country, BOM lines) and evaluates
only the (product, ruleset) pairs whose digest or ruleset digest has no stored
evaluation; the rest are re-used. The matching evaluation of every pair becomes the
current one, the others stay as history. Findings carry their rule's effective window,
so a check on any date is a query.

`check` runs `refresh` for every flow (of one agreement or all) on every product its
categories admit and returns the findings in force on a date. `compliance_gate` builds,
once per flow, the blocking findings of every product it trades, and answers
`decide(product_id, on)` for any date without touching the database again;
`may_ship` / `may_accept` are the one-product forms.

Invariants (SPEC §3 inv. 7): a product is allowed only when no blocking finding of any
of the flow's rulesets is in force on the date, judged on its current BOM; a ruleset
the library does not hold refuses (fails closed), as does a CEL error on real data.
Services never commit: the caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dronedeal.core.compliance import PRODUCT_INPUT, Decision, Finding
from dronedeal.core.records import Agreement, Flow
from dronedeal.rules import RulesetLibrary, RulesetProgram, builtin_library
from dronedeal.store import compliance as store
from dronedeal.store.master import load_agreements

Subjects = dict[str, tuple[tuple[Any, ...], list[tuple[Any, ...]]]]
_CATEGORY = PRODUCT_INPUT.index("category")


def bom_digest(product: Sequence[Any], components: Sequence[Sequence[Any]]) -> str:
    """SHA-256 (hex) of everything a rule can read of a product: its fields, its
    supplier's name and country and its BOM lines (sorted by part number)."""
    payload = json.dumps([list(product), [list(c) for c in components]],
                         ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def evaluation_id(product_id: str, ruleset_id: str, digest: str, ruleset_digest: str) -> str:
    """The client-chosen id of one evaluation: a retry writes the same row."""
    key = "\x1f".join((product_id, ruleset_id, digest, ruleset_digest))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


@dataclass
class RefreshSummary:
    """How many (product, ruleset) pairs were evaluated anew and how many re-used; the
    findings of those evaluated anew, by ruleset (so a caller need not read them back)."""

    evaluated: int = 0
    reused: int = 0
    findings: int = 0
    fresh: dict[str, dict[str, list[Finding]]] = field(default_factory=dict, repr=False)


def refresh(
    session: Session, *, library: RulesetLibrary, products_by_ruleset: dict[str, set[str]],
    subjects: Subjects | None = None,
) -> RefreshSummary:
    """Bring the current evaluations of each ruleset on its products up to date."""
    store.lock_evaluations(session)
    wanted = sorted(set().union(*products_by_ruleset.values())) if products_by_ruleset else []
    if subjects is None:
        subjects = store.load_subjects(session, wanted)
    digests = {pid: bom_digest(*subjects[pid]) for pid in wanted if pid in subjects}
    summary = RefreshSummary()
    for ruleset_id in sorted(products_by_ruleset):
        program = library.get(ruleset_id)
        product_ids = sorted(pid for pid in products_by_ruleset[ruleset_id] if pid in digests)
        _refresh_ruleset(session, program, product_ids, subjects=subjects, digests=digests,
                         summary=summary)
    return summary


def _refresh_ruleset(session: Session, program: RulesetProgram, product_ids: list[str], *,
                     subjects: Subjects, digests: dict[str, str],
                     summary: RefreshSummary) -> None:
    ruleset_digest = program.ruleset.digest
    every = len(product_ids) * 2 > len(subjects)
    stored = store.evaluations_of(session, program.ruleset_id,
                                  None if every else product_ids)
    stored_ids = {e.evaluation_id for e in stored}
    current = {e.evaluation_id for e in stored if e.is_current}
    target = {pid: evaluation_id(pid, program.ruleset_id, digests[pid], ruleset_digest)
              for pid in product_ids}
    stale = [pid for pid in product_ids if target[pid] not in stored_ids]
    rows: list[dict[str, Any]] = []
    findings: list[tuple[str, Finding]] = []
    fresh = summary.fresh.setdefault(program.ruleset_id, {})
    for pid, found in program.evaluate((subjects[pid][0], subjects[pid][1]) for pid in stale):
        rows.append({"evaluation_id": target[pid], "product_id": pid,
                     "ruleset_id": program.ruleset_id, "bom_digest": digests[pid],
                     "ruleset_digest": ruleset_digest, "bom_lines": len(subjects[pid][1])})
        findings.extend((target[pid], f) for f in found)
        fresh[pid] = found
    store.insert_evaluations(session, rows, findings)
    wanted_current = set(target.values())
    covered = set(product_ids)
    by_id = {e.evaluation_id: e for e in stored}
    retire = [eid for eid in current - wanted_current if by_id[eid].product_id in covered]
    store.set_current(session, retire=retire, promote=sorted(wanted_current - current))
    summary.evaluated += len(stale)
    summary.reused += len(product_ids) - len(stale)
    summary.findings += len(findings)


# --- check ------------------------------------------------------------------------------

class UnknownAgreementError(LookupError):
    """`--agreement` names no stored agreement."""


@dataclass
class CheckResult:
    on: dt.date
    findings: list[Finding]
    refreshed: RefreshSummary = field(default_factory=RefreshSummary)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.blocking]

    def as_json(self) -> dict[str, Any]:
        """SPEC §5: `{"findings": [{product_id, part_number, ruleset_id, rule_id,
        severity, citation, message, evaluated_on}]}`."""
        return {"findings": [f.as_json(self.on) for f in self.findings]}


def _flows(session: Session, agreement_id: str | None) -> list[Flow]:
    agreements: list[Agreement] = list(load_agreements(session, agreement_id))
    if agreement_id is not None and not agreements:
        raise UnknownAgreementError(f"no agreement {agreement_id!r} in the store")
    return [flow for a in agreements for flow in a.flows]


def products_by_ruleset(flows: Iterable[Flow], subjects: Subjects) -> dict[str, set[str]]:
    """ruleset_id -> the products some flow using it admits by category."""
    out: dict[str, set[str]] = {}
    for flow in flows:
        admitted = {pid for pid, (product, _) in subjects.items()
                    if flow.admits(product[_CATEGORY])}
        for ruleset_id in flow.rulesets:
            out.setdefault(ruleset_id, set()).update(admitted)
    return out


def check(
    session: Session, *, on: dt.date, agreement_id: str | None = None,
    library: RulesetLibrary | None = None,
) -> CheckResult:
    """Findings in force on `on` for every flow's rulesets on every product its
    categories admit (of one agreement, or all), evaluating what changed first."""
    library = library or builtin_library()
    flows = _flows(session, agreement_id)
    for flow in flows:
        for ruleset_id in flow.rulesets:
            library.get(ruleset_id)  # fail before any work when a ruleset is unknown
    subjects = store.load_subjects(session)
    pairs = products_by_ruleset(flows, subjects)
    summary = refresh(session, library=library, products_by_ruleset=pairs, subjects=subjects)
    findings: list[Finding] = []
    for ruleset_id, product_ids in sorted(pairs.items()):
        fresh = summary.fresh.get(ruleset_id, {})
        findings.extend(f for found in fresh.values() for f in found if f.in_force(on))
        reused = product_ids - fresh.keys()
        if not reused:
            continue
        # Read back only what was not just evaluated; one unfiltered query when that is
        # most of the ruleset's products.
        whole = len(reused) * 2 > len(subjects)
        findings.extend(f for f in store.current_findings(
            session, ruleset_ids=[ruleset_id], product_ids=None if whole else sorted(reused),
            on=on) if f.product_id in reused)
    findings.sort(key=lambda f: (f.product_id, f.ruleset_id, f.rule_id, f.part_number or ""))
    return CheckResult(on, findings, summary)


# --- gating -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ComplianceGate:
    """Blocking findings (with their windows) of every product one flow trades, computed
    once; `decide` answers for any product and date without the database."""

    flow: Flow
    #: products the store holds, with their category
    categories: dict[str, str]
    blocking: dict[str, tuple[Finding, ...]]

    def decide(self, product_id: str, on: dt.date) -> Decision:
        category = self.categories.get(product_id)
        if category is None:
            return Decision(product_id, self.flow.flow_id, on, False,
                            reasons=(f"no product {product_id!r} in the store",))
        if not self.flow.admits(category):
            return Decision(product_id, self.flow.flow_id, on, False, reasons=(
                f"category {category} is not traded in flow {self.flow.flow_id} "
                f"({', '.join(self.flow.categories)})",))
        in_force = tuple(f for f in self.blocking.get(product_id, ()) if f.in_force(on))
        return Decision(product_id, self.flow.flow_id, on, not in_force, findings=in_force)

    def blocked(self, on: dt.date) -> set[str]:
        """The products this flow may not ship or accept on `on`."""
        return {pid for pid, found in self.blocking.items()
                if any(f.in_force(on) for f in found)}


def compliance_gate(
    session: Session, *, flow: Flow, product_ids: Iterable[str] | None = None,
    library: RulesetLibrary | None = None,
) -> ComplianceGate:
    """The gate of one flow, for all products or `product_ids` (bulk: one refresh, one
    query). Raises UnknownRulesetError when the flow names a ruleset not in `library`."""
    library = library or builtin_library()
    for ruleset_id in flow.rulesets:
        library.get(ruleset_id)
    subjects = store.load_subjects(
        session, sorted(set(product_ids)) if product_ids is not None else None)
    categories = {pid: str(product[_CATEGORY]) for pid, (product, _) in subjects.items()}
    pairs = products_by_ruleset([flow], subjects)
    blocking: dict[str, list[Finding]] = {}
    if pairs:
        refresh(session, library=library, products_by_ruleset=pairs, subjects=subjects)
        admitted = sorted(set().union(*pairs.values()))
        for finding in store.current_findings(session, ruleset_ids=flow.rulesets,
                                              product_ids=admitted, blocking_only=True):
            blocking.setdefault(finding.product_id, []).append(finding)
    return ComplianceGate(flow, categories, {
        pid: tuple(sorted(found, key=lambda f: (f.ruleset_id, f.rule_id, f.part_number or "")))
        for pid, found in blocking.items()})


def may_ship(
    session: Session, *, product_id: str, flow: Flow, on: dt.date,
    library: RulesetLibrary | None = None,
) -> Decision:
    """Whether `product_id` may ship in `flow` on `on` (the shipment's `shipped_on`)."""
    gate = compliance_gate(session, flow=flow, product_ids=[product_id], library=library)
    return gate.decide(product_id, on)


def may_accept(
    session: Session, *, product_id: str, flow: Flow, on: dt.date,
    library: RulesetLibrary | None = None,
) -> Decision:
    """Whether a unit of `product_id` may be accepted in `flow` on `on` (the inspection
    date): the same test as shipping, judged on the inspection date (SPEC §3 inv. 7)."""
    return may_ship(session, product_id=product_id, flow=flow, on=on, library=library)
