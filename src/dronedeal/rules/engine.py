"""CEL expressions of a ruleset: compiled once, checked statically, evaluated with memos.

An expression sees three variables: `product`, `component` (component rules only) and
`lists`. `compile_expression` compiles the text with the Rust-backed CEL engine and
refuses, with a line:column inside the expression, anything it cannot vouch for: a
syntax error, an unknown variable, an unknown field of `product` / `component` /
`lists`, a function the engine does not provide, or a result that is not a boolean on
a sample subject.

Evaluation is memoised. CEL is side-effect free and deterministic, so a condition's
value depends only on the fields it reads; those fields are found once, from the
expression text, and their values form the memo key. Ten thousand products share a
few hundred distinct combinations of (category, origin, maker's country, maker), so
the engine runs CEL a few thousand times for two hundred thousand BOM lines. An
expression that uses a variable whole (not as `var.field`) is keyed on all its fields.

Invariants: no Python `eval`; every program is compiled once per ruleset load; a
runtime CEL error is never swallowed — it raises `RuleEvaluationError` naming the
ruleset, rule, product and part, so a check fails closed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import cel

from dronedeal.core.compliance import (
    COMPONENT_FIELDS,
    PRODUCT_FIELDS,
    Finding,
    Rule,
    Ruleset,
    Subject,
    entity_key_lists,
)

assert PRODUCT_FIELDS[10:] == ("supplier_key", "listed")
assert COMPONENT_FIELDS[7:] == ("manufacturer_key", "listed")

#: named functions the engine provides (operators such as `_&&_` or `@in` are allowed)
CEL_FUNCTIONS = frozenset({
    "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double",
    "string", "bytes", "timestamp", "duration", "type", "dyn",
    "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek", "getDayOfYear",
    "getHours", "getMinutes", "getSeconds", "getMilliseconds",
})
_MACRO_VARIABLE = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)\s*,")
_STRING = re.compile(
    r"""(?:[rR]?)(?:'''(?:\\.|[^\\])*?'''|\"\"\"(?:\\.|[^\\])*?\"\"\"|'(?:\\.|[^'\\])*'"""
    r"""|"(?:\\.|[^"\\])*")""", re.DOTALL)
_CEL_POSITION = re.compile(r"<input>:(\d+):(\d+):\s*(.*)")


class ExpressionError(ValueError):
    """A CEL expression refused at load, with its 1-based position in the expression."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        self.message = message
        self.line = line
        self.column = column
        super().__init__(f"at {line}:{column}: {message}")


class RuleEvaluationError(RuntimeError):
    """CEL failed on real data; the check cannot say the product is compliant."""


@dataclass(frozen=True, slots=True)
class Expression:
    """A compiled CEL program and the fields it reads (None: the variable is used whole)."""

    source: str
    program: cel.Program
    product_fields: tuple[str, ...] | None
    component_fields: tuple[str, ...] | None
    list_names: tuple[str, ...] | None


def _masked(source: str) -> str:
    """The source with string literals blanked out, positions kept."""
    return _STRING.sub(lambda m: " " * len(m.group(0)), source)


def _position(source: str, offset: int) -> tuple[int, int]:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _first(pattern: str, masked: str) -> int:
    match = re.search(pattern, masked)
    return match.start() if match else 0


def compile_expression(
    source: str, subject: Subject, lists: Mapping[str, Sequence[str]]
) -> Expression:
    """Compile and check one `when` / `violation` expression; raise ExpressionError."""
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as error:
        text = str(error)
        found = _CEL_POSITION.search(text)
        if found:
            detail = found.group(3).splitlines()[0].strip()
            raise ExpressionError(f"CEL syntax error: {detail}", int(found.group(1)),
                                  int(found.group(2))) from None
        raise ExpressionError(f"CEL error: {text.splitlines()[0]}") from None
    masked = _masked(source)
    bound = set(_MACRO_VARIABLE.findall(masked))
    roots = {"product": PRODUCT_FIELDS, "lists": tuple(lists)}
    if subject == "component":
        roots["component"] = COMPONENT_FIELDS
    for name in program.variables():
        if name in bound or name in roots:
            continue
        offset = _first(rf"(?<![\w.]){re.escape(name)}\b", masked)
        hint = ("; component is only known to component rules"
                if name == "component" else "")
        raise ExpressionError(
            f"unknown variable {name!r}; known: {', '.join(sorted(roots))}{hint}",
            *_position(source, offset))
    for name in program.functions():
        if name[0] in "_@!" or name in CEL_FUNCTIONS:
            continue
        offset = _first(rf"\b{re.escape(name)}\s*\(", masked)
        raise ExpressionError(f"unknown function {name!r}; this CEL engine provides "
                              f"{', '.join(sorted(CEL_FUNCTIONS))}",
                              *_position(source, offset))
    used: dict[str, set[str] | None] = {root: set() for root in roots}
    for match in re.finditer(r"(?<![\w.])(product|component|lists)\b(\s*\.\s*([A-Za-z_]\w*))?",
                             masked):
        root, field = match.group(1), match.group(3)
        if root not in roots or root in bound:
            continue
        if field is None:
            used[root] = None
            continue
        if field not in roots[root]:
            known = ", ".join(roots[root]) or "(none declared)"
            raise ExpressionError(f"unknown field {root}.{field}; known: {known}",
                                  *_position(source, match.start(3)))
        fields = used[root]
        if fields is not None:
            fields.add(field)

    def ordered(root: str, order: Sequence[str]) -> tuple[str, ...] | None:
        fields = used.get(root, set())
        return None if fields is None else tuple(f for f in order if f in fields)

    expression = Expression(
        source, program, ordered("product", PRODUCT_FIELDS),
        ordered("component", COMPONENT_FIELDS) if subject == "component" else (),
        ordered("lists", tuple(lists)))
    _trial(expression, subject, lists)
    return expression


def _trial(expression: Expression, subject: Subject, lists: Mapping[str, Sequence[str]]) -> None:
    """Run the expression once on a sample subject: it must give a boolean."""
    product: dict[str, Any] = dict.fromkeys(PRODUCT_FIELDS, "")
    product.update(nsn=None, unit_price=0, monthly_capacity=0, listed=())
    context: dict[str, Any] = {"product": product,
                               "lists": {k: tuple(v) for k, v in lists.items()}}
    if subject == "component":
        component: dict[str, Any] = dict.fromkeys(COMPONENT_FIELDS, "")
        component.update(quantity=1, listed=())
        context["component"] = component
    try:
        result = expression.program.execute(context)
    except Exception as error:  # the engine raises several types; all mean "refuse"
        raise ExpressionError(f"fails on a sample {subject}: {error}") from None
    if not isinstance(result, bool):
        raise ExpressionError(f"gives {type(result).__name__} {result!r}, not true or false")


# --- a ruleset ready to evaluate -------------------------------------------------------

_KeyFn = Callable[[Sequence[object]], object]


def _key_fn(fields: tuple[str, ...] | None, order: Sequence[str]) -> _KeyFn | None:
    """A fast getter of the memo key (None when the expression reads no such field)."""
    indices = list(range(len(order))) if fields is None else [order.index(f) for f in fields]
    if not indices:
        return None
    if len(indices) == 1:
        return itemgetter(indices[0])
    return itemgetter(*indices)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    when: Expression | None
    violation: Expression


class RulesetProgram:
    """A loaded ruleset with its compiled rules; `evaluate` runs it on products."""

    def __init__(self, ruleset: Ruleset, rules: Sequence[CompiledRule]) -> None:
        assert [r.rule for r in rules] == list(ruleset.rules)
        self.ruleset = ruleset
        self.rules = tuple(rules)
        self.lists: dict[str, tuple[str, ...]] = {
            **{k: tuple(v) for k, v in ruleset.lists.items()}, **entity_key_lists(ruleset)}
        self.names = ruleset.entity_names()
        membership: dict[str, set[str]] = {}
        for list_name, values in ruleset.lists.items():
            for value in values:
                membership.setdefault(value, set()).add(list_name)
        #: value -> names of the lists holding it (`product.listed`, `component.listed`)
        self.listed = {value: tuple(sorted(names)) for value, names in membership.items()}

    @property
    def ruleset_id(self) -> str:
        return self.ruleset.ruleset_id

    def evaluate(
        self, products: Iterable[tuple[Sequence[object], Sequence[Sequence[object]]]]
    ) -> Iterator[tuple[str, list[Finding]]]:
        """For each (product, BOM lines) — tuples in `PRODUCT_INPUT` / `COMPONENT_INPUT`
        order — yield (product_id, its findings), whatever their dates: a finding
        carries its rule's window and the caller asks `in_force(on)`."""
        run = _Run(self)
        for product, components in products:
            yield str(product[0]), run.evaluate(product, components)


class _Condition:
    """One expression with its memo: field values read -> result."""

    __slots__ = ("component_key", "expression", "memo", "product_key")

    def __init__(self, expression: Expression) -> None:
        self.expression = expression
        self.product_key = _key_fn(expression.product_fields, PRODUCT_FIELDS)
        self.component_key = _key_fn(expression.component_fields, COMPONENT_FIELDS)
        self.memo: dict[tuple[object, object], bool] = {}


class _Plan:
    """A rule ready to run: its conditions and its message as parts to join."""

    __slots__ = ("compiled", "fields", "template", "violation", "when")

    def __init__(self, compiled: CompiledRule) -> None:
        self.compiled = compiled
        self.when = _Condition(compiled.when) if compiled.when is not None else None
        self.violation = _Condition(compiled.violation)
        # The message as a %-template over (is component field, index) pairs.
        texts: list[str] = []
        self.fields: list[tuple[bool, int]] = []
        for part in compiled.rule.message.parts:
            if isinstance(part, str):
                texts.append(part.replace("%", "%%"))
            else:
                texts.append("%s")
                self.fields.append((part[0] == "component", (
                    COMPONENT_FIELDS if part[0] == "component" else PRODUCT_FIELDS
                ).index(part[1])))
        self.template = "".join(texts)


class _Run:
    """One pass of a ruleset over many products, with its memos (bounded by the input)."""

    def __init__(self, program: RulesetProgram) -> None:
        self.program = program
        plans = [_Plan(r) for r in program.rules]
        self.product_plans = [p for p in plans if p.compiled.rule.subject == "product"]
        self.component_plans = [p for p in plans if p.compiled.rule.subject == "component"]
        self.key_cache: dict[str, str] = {}

    def _entity_key(self, name: str) -> str:
        key = self.key_cache.get(name)
        if key is None:
            key = self.key_cache[name] = self.program.names.key(name)
        return key

    def evaluate(
        self, product_in: Sequence[object], components_in: Sequence[Sequence[object]]
    ) -> list[Finding]:
        listed = self.program.listed
        product = (*product_in, self._entity_key(str(product_in[2])),
                   listed.get(str(product_in[0]), ()))
        findings: list[Finding] = []
        for plan in self.product_plans:
            if self._holds(plan, product):
                findings.append(self._finding(plan, product, None))
        if not self.component_plans or not components_in:
            return findings
        components = [(*c, self._entity_key(str(c[3])), listed.get(str(c[1]), ()))
                      for c in components_in]
        for plan in self.component_plans:
            # The hot loop: one memo probe per condition and BOM line.
            matching = components
            when = plan.when
            if when is not None:
                matching = self._filter(plan, when, product, matching)
            if matching:
                for component in self._filter(plan, plan.violation, product, matching):
                    findings.append(self._finding(plan, product, component))
        return findings

    def _filter(self, plan: _Plan, condition: _Condition, product: tuple[object, ...],
                components: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
        """The components for which `condition` holds, with this product."""
        memo = condition.memo
        product_part = condition.product_key(product) if condition.product_key else ()
        component_key = condition.component_key
        key: tuple[object, object]
        if component_key is None:
            key = (product_part, ())
            value = memo.get(key)
            if value is None:
                value = memo[key] = self._execute(plan, condition.expression, product, ())
            return components if value else []
        out = []
        for component in components:
            key = (product_part, component_key(component))
            value = memo.get(key)
            if value is None:
                value = memo[key] = self._execute(plan, condition.expression, product,
                                                  component)
            if value:
                out.append(component)
        return out

    def _holds(self, plan: _Plan, product: tuple[object, ...]) -> bool:
        for condition in (plan.when, plan.violation):
            if condition is None:
                continue
            key = (condition.product_key(product) if condition.product_key else (), ())
            value = condition.memo.get(key)
            if value is None:
                value = condition.memo[key] = self._execute(plan, condition.expression,
                                                            product, ())
            if not value:
                return False
        return True

    def _execute(self, plan: _Plan, expression: Expression,
                 product: Sequence[object], component: Sequence[object]) -> bool:
        context: dict[str, Any] = {
            "product": _view(product, PRODUCT_FIELDS, expression.product_fields),
            "lists": {name: self.program.lists[name]
                      for name in (expression.list_names
                                   if expression.list_names is not None
                                   else tuple(self.program.lists))},
        }
        if component:
            context["component"] = _view(component, COMPONENT_FIELDS,
                                         expression.component_fields)
        rule_id = plan.compiled.rule.rule_id
        try:
            result = expression.program.execute(context)
        except Exception as error:  # every engine error means "cannot say it complies"
            part = f" part {component[1]}" if component else ""
            raise RuleEvaluationError(
                f"{self.program.ruleset_id} rule {rule_id} failed on product "
                f"{product[0]}{part}: {error}") from error
        if not isinstance(result, bool):
            raise RuleEvaluationError(
                f"{self.program.ruleset_id} rule {rule_id} gave {result!r} on product "
                f"{product[0]}, not true or false")
        return result

    def _finding(self, plan: _Plan, product: tuple[object, ...],
                 component: tuple[object, ...] | None) -> Finding:
        rule = plan.compiled.rule
        values = [(component if is_component and component is not None else product)[index]
                  for is_component, index in plan.fields]
        message = plan.template % tuple(
            v if type(v) is str else _text(v) for v in values)
        return Finding(str(product[0]), self.program.ruleset_id, rule.rule_id,
                       str(component[1]) if component is not None else None,
                       rule.severity, rule.citation, message,
                       rule.effective_from, rule.effective_to)


def _text(value: object) -> str:
    """A field as message text: lists joined, null empty (as `MessageTemplate.render`)."""
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _view(row: Sequence[object], order: Sequence[str],
          fields: tuple[str, ...] | None) -> dict[str, object]:
    if fields is None:
        return dict(zip(order, row, strict=True))
    return {f: row[order.index(f)] for f in fields}
