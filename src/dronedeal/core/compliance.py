"""Supply-chain compliance as plain data: rulesets, rules, findings, gate decisions.

A `Ruleset` is a list of `Rule`s plus named lists (countries, entities, part numbers)
and entity aliases. A rule's condition is CEL text; evaluating it is not this module's
business (CEL needs a third-party engine, `dronedeal.rules`). What lives here is what
needs no engine:

- entity-name folding (`fold_entity_name`) and alias resolution (`EntityNames`): two
  names denote the same entity exactly when their folded keys are equal after aliases;
- the effective-date switch (`Rule.in_force`): a rule applies on a date between
  `effective_from` and `effective_to`, both inclusive, `effective_to` None meaning open;
- message templates (`MessageTemplate`): `{component.part_number}` placeholders, fixed
  when the ruleset loads, so rendering a finding never fails;
- `Finding` and `Decision`, the results that services store and gates hand out.

Invariants: every rule id is unique within its ruleset; `effective_to`, when set, is on
or after `effective_from`; a finding of a component rule names its part number and a
finding of a product rule names none.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["block", "warn"]
Subject = Literal["product", "component"]
SEVERITIES: tuple[Severity, ...] = ("block", "warn")
SUBJECTS: tuple[Subject, ...] = ("product", "component")

#: fields a rule sees of the product under evaluation (`product.<field>` in CEL)
PRODUCT_FIELDS = (
    "product_id", "supplier_id", "supplier_name", "supplier_country", "name", "category",
    "nsn", "unit_price", "currency", "monthly_capacity",
    # computed per ruleset:
    "supplier_key", "listed",
)
#: fields a rule sees of one BOM line (`component.<field>` in CEL)
COMPONENT_FIELDS = (
    "product_id", "part_number", "component_category", "manufacturer",
    "manufacturer_country", "origin_country", "quantity",
    # computed per ruleset:
    "manufacturer_key", "listed",
)
#: the stored fields of a product, in this order, as services hand them to the engine
PRODUCT_INPUT = PRODUCT_FIELDS[:10]
#: the stored fields of a BOM line, in this order, as services hand them to the engine
COMPONENT_INPUT = COMPONENT_FIELDS[:7]
#: a list named `<stem>_entities` gets a companion `<stem>_entity_keys` of folded keys
ENTITY_LIST_SUFFIX = "_entities"
ENTITY_KEYS_SUFFIX = "_entity_keys"

# --- entity names ---------------------------------------------------------------------

#: legal-form words dropped from either end of a name (casefolded, dots removed)
LEGAL_FORMS = frozenset({
    # English and international
    "co", "company", "corp", "corporation", "inc", "incorporated", "llc", "llp", "lp",
    "ltd", "limited", "coltd", "plc", "pllc", "pte", "pty",
    # continental Europe and Nordics
    "gmbh", "mbh", "ag", "kg", "se", "sa", "sas", "sarl", "srl", "spa", "bv", "nv",
    "oy", "oyj", "ab", "as", "asa", "aps", "sro", "kft", "zrt",
    # East Asia
    "kk",
    # Ukrainian and Russian, Cyrillic and transliterated
    "тов", "прат", "пат", "ат", "тдв", "дп", "фоп", "ооо", "зао", "оао", "пао", "ао",
    "tov", "prat", "pat", "tdv", "ooo", "zao", "oao", "pao",
})
#: dropped without splitting the word, so `S.A.` is `sa` and `O'Neil` is `oneil`
_JOINERS = re.compile(r"[.'’ʼ`]")
_SEPARATORS = re.compile(r"[^\w]+|_+")


def fold_entity_name(name: str) -> str:
    """The matching key of an entity name: case, punctuation, spacing and legal forms
    folded away. `"SZ DJI Technology Co., Ltd."` and `"sz-dji technology"` share the
    key `szdjitechnology`; `ТОВ «Вежа Аеро»` and `Вежа Аеро` share `вежааеро`."""
    text = unicodedata.normalize("NFKC", name).casefold()
    tokens = [t for t in _SEPARATORS.split(_JOINERS.sub("", text)) if t]
    kept = list(tokens)
    while kept and kept[-1] in LEGAL_FORMS:
        kept.pop()
    while kept and kept[0] in LEGAL_FORMS:
        kept.pop(0)
    # A name that is nothing but legal forms keeps them rather than folding to "".
    return "".join(kept or tokens)


@dataclass(frozen=True, slots=True)
class EntityNames:
    """Folded keys with aliases resolved: every alias of an entity maps to the key of
    its canonical name, so `DJI`, `Da-Jiang Innovations` and `SZ DJI Technology Co.,
    Ltd.` are one entity when the ruleset says so."""

    aliases: Mapping[str, str] = field(default_factory=dict)  # folded alias -> folded name

    @classmethod
    def from_aliases(cls, aliases: Mapping[str, Iterable[str]]) -> EntityNames:
        resolved: dict[str, str] = {}
        for canonical, names in aliases.items():
            target = fold_entity_name(canonical)
            for alias in names:
                resolved[fold_entity_name(alias)] = target
        return cls(resolved)

    def key(self, name: str) -> str:
        folded = fold_entity_name(name)
        return self.aliases.get(folded, folded)


# --- message templates ----------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


@dataclass(frozen=True, slots=True)
class MessageTemplate:
    """A finding's message with `{product.F}` / `{component.F}` placeholders; `{{` and
    `}}` are literal braces. Parsed once, so rendering cannot fail."""

    parts: tuple[str | tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str, subject: Subject) -> MessageTemplate:
        """Raise ValueError naming the first placeholder that is not a known field."""
        parts: list[str | tuple[str, str]] = []
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(text[last:match.start()])
            last = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                parts.append(token[0])
                continue
            if match.group(1) is None:
                raise ValueError(f"unbalanced {token!r} at position {match.start() + 1}; "
                                 "write {{ or }} for a literal brace")
            root, _, name = match.group(1).strip().partition(".")
            allowed = {"product": PRODUCT_FIELDS,
                       "component": COMPONENT_FIELDS if subject == "component" else ()}
            if root not in allowed or name not in allowed[root]:
                fields = "product.*" if subject == "product" else "product.* or component.*"
                raise ValueError(f"placeholder {{{match.group(1)}}} is not a field of "
                                 f"{fields}; known: {', '.join(allowed['product'])}"
                                 + (f"; {', '.join(COMPONENT_FIELDS)}"
                                    if subject == "component" else ""))
            parts.append((root, name))
        parts.append(text[last:])
        return cls(tuple(p for p in parts if p != ""))

    def render(self, product: Mapping[str, object],
               component: Mapping[str, object] | None = None) -> str:
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            root, name = part
            source = product if root == "product" else (component or {})
            value = source.get(name)
            if isinstance(value, tuple | list):
                out.append(", ".join(str(v) for v in value))
            else:
                out.append("" if value is None else str(value))
        return "".join(out)


# --- rulesets -------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rule:
    rule_id: str
    citation: str
    severity: Severity
    subject: Subject
    #: CEL text; None means the rule applies to every subject
    when: str | None
    #: CEL text; true means the subject violates the rule
    violation: str
    message: MessageTemplate
    effective_from: dt.date
    effective_to: dt.date | None = None
    title: str = ""

    def __post_init__(self) -> None:
        assert self.severity in SEVERITIES, self.severity
        assert self.subject in SUBJECTS, self.subject
        assert self.effective_to is None or self.effective_to >= self.effective_from, (
            f"{self.rule_id}: effective_to before effective_from")

    def in_force(self, on: dt.date) -> bool:
        """Whether the rule applies on `on`: between its dates, both inclusive."""
        return in_force(self.effective_from, self.effective_to, on)


def in_force(effective_from: dt.date, effective_to: dt.date | None, on: dt.date) -> bool:
    return effective_from <= on and (effective_to is None or on <= effective_to)


@dataclass(frozen=True, slots=True)
class Ruleset:
    ruleset_id: str
    title: str
    description: str
    jurisdiction: str
    #: named lists (`lists.<name>` in CEL): countries, entity names, part numbers …
    lists: Mapping[str, tuple[str, ...]]
    #: canonical entity name -> other names it goes by
    aliases: Mapping[str, tuple[str, ...]]
    rules: tuple[Rule, ...]
    #: SHA-256 (hex) of the ruleset's canonical content: a change re-evaluates
    digest: str
    #: where it was read from, for error messages (`us-uas-supply-chain.yaml`)
    source: str = ""

    def __post_init__(self) -> None:
        ids = [r.rule_id for r in self.rules]
        assert len(ids) == len(set(ids)), f"{self.ruleset_id}: duplicate rule ids"

    def entity_names(self) -> EntityNames:
        return EntityNames.from_aliases(self.aliases)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.rule_id == rule_id)


def entity_key_lists(ruleset: Ruleset) -> dict[str, tuple[str, ...]]:
    """`<stem>_entity_keys` for every list `<stem>_entities`: the folded, alias-resolved
    keys that `component.manufacturer_key` and `product.supplier_key` compare with."""
    names = ruleset.entity_names()
    out: dict[str, tuple[str, ...]] = {}
    for list_name, values in ruleset.lists.items():
        if list_name.endswith(ENTITY_LIST_SUFFIX):
            stem = list_name[: -len(ENTITY_LIST_SUFFIX)]
            out[stem + ENTITY_KEYS_SUFFIX] = tuple(sorted({names.key(v) for v in values}))
    return out


# --- findings and decisions -----------------------------------------------------------

@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One rule violated by one product (or one of its BOM lines), with the window in
    which the rule applies; `on` a date it is in force exactly when `in_force(on)`."""

    product_id: str
    ruleset_id: str
    rule_id: str
    #: None for a product rule
    part_number: str | None
    severity: Severity
    citation: str
    message: str
    effective_from: dt.date
    effective_to: dt.date | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "block"

    def in_force(self, on: dt.date) -> bool:
        return in_force(self.effective_from, self.effective_to, on)

    def as_json(self, on: dt.date) -> dict[str, str | None]:
        """The SPEC §5 `check --format json` shape of this finding, evaluated on `on`."""
        return {"product_id": self.product_id, "part_number": self.part_number,
                "ruleset_id": self.ruleset_id, "rule_id": self.rule_id,
                "severity": self.severity, "citation": self.citation,
                "message": self.message, "evaluated_on": on.isoformat()}


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a product may ship (or a unit be accepted) in a flow on a date; when not,
    the reasons, blocking findings first with their rule and citation."""

    product_id: str
    flow_id: str
    on: dt.date
    allowed: bool
    findings: tuple[Finding, ...] = ()
    #: reasons that are not findings (unknown product, category outside the flow)
    reasons: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        assert self.allowed == (not self.findings and not self.reasons), (
            "a refusal names its reasons and an allowance has none")

    def explain(self) -> str:
        """One sentence a clerk can act on."""
        if self.allowed:
            return f"{self.product_id} may ship in {self.flow_id} on {self.on.isoformat()}"
        causes = list(self.reasons) + [
            f"{f.rule_id} ({f.citation})"
            + (f" on part {f.part_number}" if f.part_number else "") + f": {f.message}"
            for f in self.findings
        ]
        return (f"{self.product_id} is blocked in {self.flow_id} on {self.on.isoformat()}: "
                + "; ".join(causes))
