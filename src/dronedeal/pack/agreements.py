"""Reading `agreements.yaml`: a list of agreements, checked key by key with line numbers.

The file is composed into YAML nodes (never constructed into Python objects), so each
error names the line of the offending key and each scalar is read from the text the
user wrote: `ceiling: 30000000000` and `share: 0.05` are read as decimals from their
digits, never through a float. Key paths (`flows[0].buyer_id`) stand in for columns.

Defaults: a flow's `end_user_id` is its `buyer_id`; `rulesets` is empty; `fund` and
`reciprocity` are absent. `license_required` defaults to "the end user's country
differs from `seller_country`", which needs the parties; until
`pack.references.resolve_defaults` settles it, it is provisionally `True` (the safe
side) and the flow's path is listed in `Located.defaulted`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import NamedTuple, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from dronedeal.core.errors import RowError
from dronedeal.core.records import (
    PRODUCT_CATEGORIES,
    Agreement,
    Contribution,
    Flow,
    Fund,
    Reciprocity,
)
from dronedeal.pack.cells import (
    closest,
    parse_country,
    parse_currency,
    parse_date,
    parse_id,
    parse_money,
    parse_text,
    quoted,
    suggestion,
)
from dronedeal.pack.parsed import Located

T = TypeVar("T")

_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_EXAMPLE = "- agreement_id: ua-us-2025"

_AGREEMENT_KEYS = ("agreement_id", "title", "currency", "ceiling", "signed_on", "ends_on",
                   "flows")
_AGREEMENT_OPTIONAL = ("fund", "reciprocity")
_FLOW_KEYS = ("flow_id", "buyer_id", "seller_country", "categories")
_FLOW_OPTIONAL = ("end_user_id", "license_required", "rulesets")
_FUND_KEYS = ("party_id",)
_FUND_OPTIONAL = ("contributions",)
_CONTRIBUTION_KEYS = ("flow_id", "payer_id", "share")
_RECIPROCITY_KEYS = ("numerator_flow", "denominator_flow", "min_ratio")


class AgreementsRead(NamedTuple):
    """The agreements of one YAML file, the errors that kept others out, and their ids."""

    agreements: list[Located[Agreement]]
    errors: list[RowError]
    refused: frozenset[str] = frozenset()


def read_agreements(path: Path) -> AgreementsRead:
    """Read and check `agreements.yaml` (or `.yml`)."""
    root = _compose(path)
    if isinstance(root, RowError):
        return AgreementsRead([], [root])
    reader = _Reader(path.name)
    located: list[Located[Agreement]] = []
    for node in root.value:
        result = reader.agreement(node)
        if result is not None:
            agreement, lines, defaulted = result
            located.append(Located(agreement, path.name, _line(node), lines, defaulted))
    return AgreementsRead(located, sorted(reader.errors, key=lambda e: e.row),
                          frozenset(reader.refused))


def _compose(path: Path) -> SequenceNode | RowError:
    """The document's top-level list node, or the one error that stops reading it."""
    file = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        return RowError(file, 0, "*", f"cannot open the file: {exc.strerror}")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        return RowError(file, line, "*", f"the file is not UTF-8 text (byte "
                                         f"0x{data[exc.start]:02X} on this line); save it "
                                         "as UTF-8 and import it again")
    empty = RowError(file, 1, "*", "the file is empty; write a list of agreements, each "
                                   f"starting with \"{_EXAMPLE}\"")
    if not text.strip():
        return empty
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at column {mark.column + 1}" if mark else ""
        return RowError(file, mark.line + 1 if mark else 1, "*",
                        f"not valid YAML{where}: {exc.problem or exc.context}; "
                        "check the indentation, the colons and the quotes")
    except yaml.YAMLError as exc:
        return RowError(file, 1, "*", f"not valid YAML: {exc}")
    if root is None:
        return empty
    if not isinstance(root, SequenceNode):
        return RowError(file, _line(root), "*", f"{file} must be a list of agreements, each "
                                                f"starting with \"{_EXAMPLE}\"")
    return root


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _positive_decimal(example: str, at_most: Decimal | None = None) -> Callable[[str], Decimal]:
    def parse(text: str) -> Decimal:
        if not _DECIMAL.fullmatch(text) or Decimal(text) <= 0:
            raise ValueError(f"{quoted(text)} is not a positive decimal number such as {example}")
        value = Decimal(text)
        if at_most is not None and value > at_most:
            raise ValueError(f"{quoted(text)} is more than {at_most}; write a fraction, "
                             f"e.g. {example} for {Decimal(example) * 100:f} %")
        return value
    return parse


def _category_pattern(text: str) -> str:
    if text == "*" or text in PRODUCT_CATEGORIES:
        return text
    if text.endswith(".*") and any(c.startswith(text[:-1]) for c in PRODUCT_CATEGORIES):
        return text
    hint = (suggestion(text, ("*", "uas.*", *PRODUCT_CATEGORIES))
            or f"; use \"*\", \"uas.*\" or one of: {', '.join(PRODUCT_CATEGORIES)}")
    raise ValueError(f"{quoted(text)} is not a known product category{hint}")


class _Reader:
    """Walks one agreement's nodes, collecting errors and the line of every key path."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[RowError] = []
        self.lines: dict[str, int] = {}
        self.refused: set[str] = set()
        self.first_line: dict[str, int] = {}
        """Ids of agreements left out for their errors: references to them are not news."""

    def error(self, node: Node, path: str, message: str) -> None:
        self.errors.append(RowError(self.file, _line(node), path or "*", message))

    def fields(self, node: Node, path: str, required: tuple[str, ...],
               optional: tuple[str, ...]) -> dict[str, Node] | None:
        """The keys of a mapping; unknown, repeated and missing keys are errors."""
        if not isinstance(node, MappingNode):
            what = path or "an agreement"
            self.error(node, path, f"{what} must be a set of keys ({', '.join(required)}), "
                                   f"not {_kind(node)}")
            return None
        found: dict[str, Node] = {}
        seen: set[str] = set()
        unknown: list[Node] = []
        allowed = required + optional
        for key_node, value_node in node.value:
            name = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
            key_path = _join(path, name)
            if name in seen:
                self.error(key_node, key_path, f"key {quoted(name)} appears twice; keep one")
            elif name not in allowed:
                unknown.append(key_node)
            elif name in optional and _is_null(value_node):
                pass  # `fund: ~` is no fund
            else:
                found[name] = value_node
                self.lines[key_path] = _line(key_node)
            seen.add(name)
        missing = [name for name in required if name not in seen]
        for key_node in unknown:
            name = str(key_node.value) if isinstance(key_node, ScalarNode) else ""
            meant = closest(name, missing)
            if meant is not None:  # a misspelt required key: one error, not also "missing"
                missing.remove(meant)
                hint = f'; did you mean "{meant}"?'
            else:
                hint = suggestion(name, allowed) or f"; the keys are: {', '.join(allowed)}"
            self.error(key_node, _join(path, name), f"unknown key {quoted(name)}{hint}")
        for name in missing:
            self.error(node, _join(path, name), f"missing key {quoted(name)}; add it")
        return found

    def scalar(self, node: Node, path: str) -> str | None:
        if not isinstance(node, ScalarNode):
            self.error(node, path, f"{path} must be a single value, not {_kind(node)}")
            return None
        text = str(node.value).strip()
        if node.tag == _NULL or not text:
            self.error(node, path, f"{path} is empty; fill it in")
            return None
        return text

    def value(self, node: Node, path: str, parse: Callable[[str], T]) -> T | None:
        text = self.scalar(node, path)
        if text is None:
            return None
        try:
            return parse(text)
        except ValueError as exc:
            self.error(node, path, str(exc))
            return None

    def flag(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL:
            return str(node.value).lower() in ("true", "yes", "on")
        self.error(node, path, f"{path} must be true or false (without quotes)")
        return None

    def items(self, node: Node, path: str, example: str) -> list[Node] | None:
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.error(node, path, f"{path} must be a list, e.g. {example}")
        return None

    def values(self, node: Node, path: str, parse: Callable[[str], T], example: str
               ) -> tuple[T, ...] | None:
        nodes = self.items(node, path, example)
        if nodes is None:
            return None
        parsed = [self.value(item, f"{path}[{i}]", parse) for i, item in enumerate(nodes)]
        kept = [p for p in parsed if p is not None]
        return tuple(kept) if len(kept) == len(parsed) else None

    # -- the document's shapes -----------------------------------------------------------

    def agreement(self, node: Node) -> tuple[Agreement, dict[str, int], frozenset[str]] | None:
        self.lines = {}
        before = len(self.errors)
        keys = self.fields(node, "", _AGREEMENT_KEYS, _AGREEMENT_OPTIONAL)
        if keys is None:
            return None
        got = {name: keys.get(name) for name in _AGREEMENT_KEYS + _AGREEMENT_OPTIONAL}
        id_node = got["agreement_id"]
        agreement_id = self._get(id_node, "agreement_id", parse_id)
        if agreement_id is not None and id_node is not None:
            line = self.lines["agreement_id"]
            first = self.first_line.setdefault(agreement_id, line)
            if first != line:
                self.error(id_node, "agreement_id",
                           f"duplicate agreement_id {quoted(agreement_id)}: line {first} has "
                           "it already; keep one of them or give this one another id")
        title = self._get(got["title"], "title", parse_text)
        currency = self._get(got["currency"], "currency", parse_currency)
        ceiling = None
        if currency is not None and got["ceiling"] is not None:
            ceiling = self.value(got["ceiling"], "ceiling",
                                 lambda text: parse_money(text, currency, 1))
        signed_on = self._get(got["signed_on"], "signed_on", parse_date)
        ends_on = self._get(got["ends_on"], "ends_on", parse_date)
        if signed_on and ends_on and ends_on < signed_on and got["ends_on"] is not None:
            self.error(got["ends_on"], "ends_on",
                       f"ends_on {ends_on.isoformat()} is before signed_on "
                       f"{signed_on.isoformat()}; an agreement ends after it is signed")
        flows, defaulted = self._flows(got["flows"])
        fund = self._fund(got["fund"]) if got["fund"] is not None else None
        reciprocity = (self._reciprocity(got["reciprocity"])
                       if got["reciprocity"] is not None else None)
        if len(self.errors) > before:
            if agreement_id is not None:
                self.refused.add(agreement_id)
            return None
        assert agreement_id is not None
        assert title is not None
        assert currency is not None
        assert ceiling is not None
        assert signed_on is not None
        assert ends_on is not None
        assert flows is not None
        record = Agreement(agreement_id=agreement_id, title=title, currency=currency,
                           ceiling=ceiling, signed_on=signed_on, ends_on=ends_on, flows=flows,
                           fund=fund, reciprocity=reciprocity)
        return record, dict(self.lines), defaulted

    def _get(self, node: Node | None, path: str, parse: Callable[[str], T]) -> T | None:
        return None if node is None else self.value(node, path, parse)

    def _flows(self, node: Node | None) -> tuple[tuple[Flow, ...] | None, frozenset[str]]:
        if node is None:
            return None, frozenset()
        nodes = self.items(node, "flows", "[{flow_id: drones-to-us, …}]")
        if nodes is None:
            return None, frozenset()
        if not nodes:
            self.error(node, "flows", "flows is empty; an agreement has at least one flow")
            return None, frozenset()
        flows: list[Flow] = []
        defaulted: set[str] = set()
        first_line: dict[str, int] = {}
        for index, item in enumerate(nodes):
            path = f"flows[{index}]"
            keys = self.fields(item, path, _FLOW_KEYS, _FLOW_OPTIONAL)
            if keys is None:
                continue
            flow_id = self._get(keys.get("flow_id"), f"{path}.flow_id", parse_id)
            buyer_id = self._get(keys.get("buyer_id"), f"{path}.buyer_id", parse_id)
            end_user_id = self._get(keys.get("end_user_id"), f"{path}.end_user_id", parse_id)
            seller_country = self._get(keys.get("seller_country"), f"{path}.seller_country",
                                       parse_country)
            license_node = keys.get("license_required")
            license_required = (self.flag(license_node, f"{path}.license_required")
                                if license_node is not None else None)
            categories = None
            if "categories" in keys:
                categories = self.values(keys["categories"], f"{path}.categories",
                                         _category_pattern, '["uas.*", "cuas"]')
                if categories == ():
                    self.error(keys["categories"], f"{path}.categories",
                               'categories is empty; list what the flow trades, or "*" '
                               "for everything")
            rulesets: tuple[str, ...] | None = ()
            if "rulesets" in keys:
                rulesets = self.values(keys["rulesets"], f"{path}.rulesets", parse_id,
                                       "[us-uas-supply-chain]")
            if flow_id is not None:
                line = self.lines[f"{path}.flow_id"]
                first = first_line.setdefault(flow_id, line)
                if first != line:
                    self.error(keys["flow_id"], f"{path}.flow_id",
                               f"duplicate flow_id {quoted(flow_id)}: line {first} has it "
                               "already; give each flow of an agreement its own id")
            if (flow_id is None or buyer_id is None or seller_country is None
                    or not categories or rulesets is None
                    or ("end_user_id" in keys and end_user_id is None)
                    or (license_node is not None and license_required is None)):
                continue
            if license_required is None:
                defaulted.add(f"{path}.license_required")
            flows.append(Flow(flow_id=flow_id, buyer_id=buyer_id,
                              end_user_id=end_user_id or buyer_id,
                              seller_country=seller_country,
                              license_required=True if license_required is None
                              else license_required,
                              categories=categories, rulesets=rulesets))
        return tuple(flows), frozenset(defaulted)

    def _fund(self, node: Node) -> Fund | None:
        keys = self.fields(node, "fund", _FUND_KEYS, _FUND_OPTIONAL)
        if keys is None:
            return None
        party_id = self._get(keys.get("party_id"), "fund.party_id", parse_id)
        contributions: list[Contribution] = []
        complete = True
        if "contributions" in keys:
            example = '[{flow_id: drones-to-us, payer_id: us-dod, share: "0.05"}]'
            items = self.items(keys["contributions"], "fund.contributions", example) or []
            for index, item in enumerate(items):
                path = f"fund.contributions[{index}]"
                found = self.fields(item, path, _CONTRIBUTION_KEYS, ())
                if found is None:
                    complete = False
                    continue
                flow_id = self._get(found.get("flow_id"), f"{path}.flow_id", parse_id)
                payer_id = self._get(found.get("payer_id"), f"{path}.payer_id", parse_id)
                share = self._get(found.get("share"), f"{path}.share",
                                  _positive_decimal("0.05", at_most=Decimal(1)))
                if flow_id is None or payer_id is None or share is None:
                    complete = False
                    continue
                contributions.append(Contribution(flow_id, payer_id, share))
        if party_id is None or not complete:
            return None
        return Fund(party_id=party_id, contributions=tuple(contributions))

    def _reciprocity(self, node: Node) -> Reciprocity | None:
        keys = self.fields(node, "reciprocity", _RECIPROCITY_KEYS, ())
        if keys is None:
            return None
        numerator = self._get(keys.get("numerator_flow"), "reciprocity.numerator_flow",
                              parse_id)
        denominator = self._get(keys.get("denominator_flow"), "reciprocity.denominator_flow",
                                parse_id)
        min_ratio = self._get(keys.get("min_ratio"), "reciprocity.min_ratio",
                              _positive_decimal("0.8"))
        if numerator is None or denominator is None or min_ratio is None:
            return None
        return Reciprocity(numerator, denominator, min_ratio)


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == _NULL


def _kind(node: Node) -> str:
    if isinstance(node, SequenceNode):
        return "a list"
    if isinstance(node, MappingNode):
        return "a set of keys"
    return f"the value {quoted(str(node.value))}"

