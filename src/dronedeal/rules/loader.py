"""Reading compliance rulesets (YAML with CEL conditions) and the built-in library.

`parse_ruleset(text, file)` turns one YAML document into a `RulesetProgram` or refuses
it with every error found, each a `RowError` naming the file, the YAML line, the rule
(`US-848-HW.when`) and, for CEL, the line:column inside the expression. It refuses
unknown or missing fields, bad ids, severities, subjects and dates, duplicate keys,
rule ids or lists, and every expression `compile_expression` refuses.

The YAML is read with YAML 1.2 scalars: dates stay text until checked here (so
`2024-13-01` is an error with a line, not a crash) and `NO` stays Norway's country
code instead of turning into `false`.

`builtin_library()` loads `src/dronedeal/rulesets/*.yaml` shipped in the package;
`load_library(extra)` adds a folder of extra rulesets (a pack's `rulesets/`). A ruleset
id is unique across the library: an extra one may not replace a built-in one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from dronedeal.core.canonical import canonical_json
from dronedeal.core.compliance import (
    ENTITY_KEYS_SUFFIX,
    SEVERITIES,
    SUBJECTS,
    MessageTemplate,
    Rule,
    Ruleset,
    Severity,
    Subject,
    entity_key_lists,
)
from dronedeal.core.errors import RefusedError, RowError
from dronedeal.rules.engine import (
    CompiledRule,
    Expression,
    ExpressionError,
    RulesetProgram,
    compile_expression,
)

RULESET_FIELDS = ("ruleset_id", "title", "description", "jurisdiction", "lists", "aliases",
                  "rules")
RULE_FIELDS = ("rule_id", "title", "citation", "severity", "effective_from", "effective_to",
               "subject", "when", "violation", "message")
_REQUIRED_RULE = ("rule_id", "citation", "severity", "effective_from", "subject",
                  "violation", "message")
_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_LIST_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class UnknownRulesetError(LookupError):
    """A flow names a ruleset the library does not hold; nothing can be judged."""


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans (true/false only) and no implicit dates."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _mapping_lines(node: yaml.Node, file: str, where: str,
                   errors: list[RowError]) -> dict[str, yaml.Node]:
    """key -> value node of a mapping node; a duplicate key is an error."""
    out: dict[str, yaml.Node] = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key_node, value_node in node.value:
        key = str(key_node.value)
        if key in out:
            errors.append(RowError(file, _line(key_node), f"{where}{key}",
                                   f"{key} is given twice; keep one"))
        out[key] = value_node
    return out


def parse_ruleset(text: str, file: str) -> RulesetProgram:
    """One ruleset from YAML text; RefusedError with every error, naming `file`."""
    errors: list[RowError] = []
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as bad:
        mark = getattr(bad, "problem_mark", None)
        raise RefusedError([RowError(file, mark.line + 1 if mark else 0, "*",
                                     f"not valid YAML: {getattr(bad, 'problem', bad)}")]
                           ) from None
    if node is None or not isinstance(data, dict):
        raise RefusedError([RowError(file, 0, "*", "a ruleset is a YAML mapping with "
                                     "ruleset_id, title, lists and rules")])
    top = _mapping_lines(node, file, "", errors)

    def error(column: str, node_key: str | None, message: str,
              nodes: Mapping[str, yaml.Node] = top) -> None:
        errors.append(RowError(file, _line(nodes.get(node_key)) if node_key else 0,
                               column, message))

    for key in data:
        if key not in RULESET_FIELDS:
            error(str(key), str(key), f"unknown field {key!r}; a ruleset has "
                  f"{', '.join(RULESET_FIELDS)}")
    ruleset_id = data.get("ruleset_id")
    if not isinstance(ruleset_id, str) or not _ID.fullmatch(ruleset_id):
        error("ruleset_id", "ruleset_id", "ruleset_id is required: 1–64 letters, digits "
              "and . _ : -")
        ruleset_id = "?"
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        error("title", "title", "title is required: say what the ruleset checks")
        title = ""
    description = _text(data.get("description"), "description", top, file, errors)
    jurisdiction = _text(data.get("jurisdiction"), "jurisdiction", top, file, errors)
    lists = _lists(data.get("lists"), top.get("lists"), file, errors)
    aliases = _aliases(data.get("aliases"), top.get("aliases"), file, errors)
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        error("rules", "rules", "rules is required: a list of at least one rule")
        raw_rules = []
    rules_node = top.get("rules")
    rule_nodes = rules_node.value if isinstance(rules_node, yaml.SequenceNode) else []
    draft = Ruleset(ruleset_id, title, description, jurisdiction, lists, aliases, (), "",
                    file)
    cel_lists = {**lists, **entity_key_lists(draft)}
    compiled: list[CompiledRule] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_rules):
        item_node = rule_nodes[index] if index < len(rule_nodes) else None
        rule = _rule(raw, index, item_node, lists=cel_lists, file=file, errors=errors)
        if rule is None:
            continue
        if rule.rule.rule_id in seen:
            errors.append(RowError(file, _line(item_node), f"{rule.rule.rule_id}.rule_id",
                                   f"rule id {rule.rule.rule_id} is used twice in "
                                   f"{ruleset_id}; rule ids are unique within a ruleset"))
            continue
        seen.add(rule.rule.rule_id)
        compiled.append(rule)
    if errors:
        raise RefusedError(sorted(errors))
    rules = tuple(c.rule for c in compiled)
    document = {
        "ruleset_id": ruleset_id, "title": title, "description": description,
        "jurisdiction": jurisdiction, "lists": {k: list(v) for k, v in lists.items()},
        "aliases": {k: list(v) for k, v in aliases.items()},
        "rules": [_rule_document(r) for r in rules],
    }
    digest = hashlib.sha256(canonical_json(document).encode()).hexdigest()
    ruleset = Ruleset(ruleset_id, title, description, jurisdiction, lists, aliases, rules,
                      digest, file)
    return RulesetProgram(ruleset, compiled)


def _rule_document(rule: Rule) -> dict[str, Any]:
    return {"rule_id": rule.rule_id, "title": rule.title, "citation": rule.citation,
            "severity": rule.severity, "subject": rule.subject, "when": rule.when,
            "violation": rule.violation, "message": _template_text(rule.message),
            "effective_from": rule.effective_from.isoformat(),
            "effective_to": rule.effective_to.isoformat() if rule.effective_to else None}


def _template_text(template: MessageTemplate) -> str:
    return "".join(p if isinstance(p, str) else "{" + ".".join(p) + "}"
                   for p in template.parts)


def _text(value: Any, field: str, nodes: Mapping[str, yaml.Node], file: str,
          errors: list[RowError]) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        errors.append(RowError(file, _line(nodes.get(field)), field, f"{field} is text"))
        return ""
    return value.strip()


def _lists(value: Any, node: yaml.Node | None, file: str,
           errors: list[RowError]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    nodes = _mapping_lines(node, file, "lists.", errors) if node is not None else {}
    if not isinstance(value, dict):
        errors.append(RowError(file, _line(node), "lists",
                               "lists is a mapping of names to lists of text"))
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, items in value.items():
        column = f"lists.{name}"
        if not isinstance(name, str) or not _LIST_NAME.fullmatch(name):
            errors.append(RowError(file, _line(nodes.get(str(name))), column,
                                   f"list name {name!r} must be a CEL identifier "
                                   "(letters, digits, _)"))
            continue
        if name.endswith(ENTITY_KEYS_SUFFIX):
            errors.append(RowError(file, _line(nodes.get(name)), column,
                                   f"names ending in {ENTITY_KEYS_SUFFIX} are computed from "
                                   "lists ending in _entities; rename it"))
            continue
        if items is not None and (not isinstance(items, list)
                                  or not all(isinstance(i, str) for i in items)):
            errors.append(RowError(file, _line(nodes.get(name)), column,
                                   f"{name} must be a list of text (quote numbers)"))
            continue
        out[name] = tuple(items or ())
    return out


def _aliases(value: Any, node: yaml.Node | None, file: str,
             errors: list[RowError]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(a, str) for a in v)
            for k, v in value.items()):
        errors.append(RowError(file, _line(node), "aliases", "aliases maps an entity's "
                               "name to the list of other names it goes by"))
        return {}
    return {k: tuple(v) for k, v in value.items()}


def _date(value: Any) -> dt.date | None:
    if isinstance(value, str) and _DATE.fullmatch(value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def _rule(raw: Any, index: int, node: yaml.Node | None, *,
          lists: Mapping[str, Sequence[str]], file: str,
          errors: list[RowError]) -> CompiledRule | None:
    if not isinstance(raw, dict):
        errors.append(RowError(file, _line(node), f"rules[{index}]",
                               "a rule is a mapping with rule_id, citation, severity, …"))
        return None
    nodes = _mapping_lines(node, file, f"rules[{index}].", errors) if node else {}
    rule_id = raw.get("rule_id")
    name = rule_id if isinstance(rule_id, str) and _ID.fullmatch(rule_id) else f"rules[{index}]"
    before = len(errors)

    def error(field: str, message: str) -> None:
        errors.append(RowError(file, _line(nodes.get(field, node)), f"{name}.{field}",
                               f"rule {name}: {message}"))

    for key in raw:
        if key not in RULE_FIELDS:
            error(str(key), f"unknown field {key!r}; a rule has {', '.join(RULE_FIELDS)}")
    for key in _REQUIRED_RULE:
        if raw.get(key) in (None, ""):
            error(key, f"{key} is required")
    if rule_id is not None and name != rule_id:
        error("rule_id", "rule_id must be 1–64 letters, digits and . _ : -")
    severity = raw.get("severity")
    if severity is not None and severity not in SEVERITIES:
        error("severity", f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    subject = raw.get("subject")
    if subject is not None and subject not in SUBJECTS:
        error("subject", f"subject {subject!r} is not one of {', '.join(SUBJECTS)}")
    for key in ("citation", "title", "when", "violation", "message"):
        if raw.get(key) is not None and not isinstance(raw[key], str):
            error(key, f"{key} is text")
    effective_from = _date(raw.get("effective_from"))
    if raw.get("effective_from") is not None and effective_from is None:
        error("effective_from", f"effective_from {raw['effective_from']!r} is not a date "
              "YYYY-MM-DD")
    effective_to = _date(raw.get("effective_to"))
    if raw.get("effective_to") is not None and effective_to is None:
        error("effective_to", f"effective_to {raw['effective_to']!r} is not a date "
              "YYYY-MM-DD (or null for no end)")
    if effective_from and effective_to and effective_to < effective_from:
        error("effective_to", f"effective_to {effective_to} is before effective_from "
              f"{effective_from}")
    if len(errors) > before or subject not in SUBJECTS:
        return None
    typed_subject: Subject = "component" if subject == "component" else "product"
    expressions: dict[str, Expression | None] = {"when": None, "violation": None}
    for key in ("when", "violation"):
        text = raw.get(key)
        if text is None or not str(text).strip():
            continue
        try:
            expressions[key] = compile_expression(str(text).strip(), typed_subject, lists)
        except ExpressionError as refused:
            error(key, f"CEL error at {refused.line}:{refused.column} of the {key} "
                  f"expression: {refused.message}")
    try:
        template = MessageTemplate.parse(str(raw["message"]).strip(), typed_subject)
    except ValueError as refused:
        error("message", str(refused))
        return None
    violation = expressions["violation"]
    if len(errors) > before or violation is None or effective_from is None:
        return None
    level: Severity = "block" if severity == "block" else "warn"
    when = expressions["when"]
    rule = Rule(rule_id=name, citation=str(raw["citation"]).strip(), severity=level,
                subject=typed_subject, when=when.source if when else None,
                violation=violation.source, message=template,
                effective_from=effective_from, effective_to=effective_to,
                title=str(raw.get("title") or "").strip())
    return CompiledRule(rule, when, violation)


# --- the library ------------------------------------------------------------------------

class RulesetLibrary:
    """Rulesets by id: the built-in ones and any extra ones."""

    def __init__(self, programs: Iterable[RulesetProgram]) -> None:
        self.programs: dict[str, RulesetProgram] = {}
        for program in programs:
            assert program.ruleset_id not in self.programs, program.ruleset_id
            self.programs[program.ruleset_id] = program

    def __contains__(self, ruleset_id: object) -> bool:
        return ruleset_id in self.programs

    def get(self, ruleset_id: str) -> RulesetProgram:
        """The ruleset, or UnknownRulesetError naming what is known."""
        program = self.programs.get(ruleset_id)
        if program is None:
            raise UnknownRulesetError(
                f"ruleset {ruleset_id!r} is neither built in nor among the extra rulesets "
                f"given; known: {', '.join(sorted(self.programs)) or '(none)'}")
        return program

    def with_extra(self, extra: Iterable[RulesetProgram]) -> RulesetLibrary:
        """This library plus `extra`; RefusedError when an id is taken."""
        programs = dict(self.programs)
        errors = []
        for program in extra:
            if program.ruleset_id in programs:
                taken = programs[program.ruleset_id].ruleset.source
                errors.append(RowError(program.ruleset.source, 0, "ruleset_id",
                                       f"ruleset id {program.ruleset_id} is already taken "
                                       f"by {taken}; give this ruleset its own id"))
                continue
            programs[program.ruleset_id] = program
        if errors:
            raise RefusedError(errors)
        return RulesetLibrary(programs.values())


def load_folder(folder: Path, *, label: str | None = None) -> list[RulesetProgram]:
    """Every `*.yaml` / `*.yml` ruleset in `folder`; RefusedError with all errors."""
    programs: list[RulesetProgram] = []
    errors: list[RowError] = []
    prefix = f"{label}/" if label else ""
    paths = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    for path in paths:
        try:
            programs.append(parse_ruleset(path.read_text(encoding="utf-8"),
                                          prefix + path.name))
        except RefusedError as refused:
            errors.extend(refused.errors)
        except UnicodeDecodeError:
            errors.append(RowError(prefix + path.name, 0, "*", "not UTF-8 text"))
    if errors:
        raise RefusedError(sorted(errors))
    return programs


@functools.cache
def builtin_library() -> RulesetLibrary:
    """The rulesets shipped in `dronedeal/rulesets/` (read and compiled once)."""
    folder = resources.files("dronedeal").joinpath("rulesets")
    programs = [parse_ruleset(entry.read_text(encoding="utf-8"), f"rulesets/{entry.name}")
                for entry in sorted(folder.iterdir(), key=lambda e: e.name)
                if entry.name.endswith((".yaml", ".yml"))]
    return RulesetLibrary(programs)


def load_library(extra: Path | None = None) -> RulesetLibrary:
    """The built-in rulesets, plus those in `extra` (a pack's `rulesets/` folder)."""
    library = builtin_library()
    if extra is None:
        return library
    return library.with_extra(load_folder(extra, label=extra.name))
