"""Compliance rulesets: YAML with CEL conditions, loaded, checked and evaluated.

This package sits beside `store` and `pack`: it imports `dronedeal.core` and the CEL
engine, never the database. `loader` reads and validates rulesets (built-in ones ship
in `dronedeal/rulesets/`); `engine` compiles their CEL once and evaluates it on
products and BOM lines. Conditions are CEL, never Python `eval`.
"""

from __future__ import annotations

from dronedeal.core.compliance import COMPONENT_INPUT, PRODUCT_INPUT
from dronedeal.rules.engine import (
    ExpressionError,
    RuleEvaluationError,
    RulesetProgram,
    compile_expression,
)
from dronedeal.rules.loader import (
    RulesetLibrary,
    UnknownRulesetError,
    builtin_library,
    load_folder,
    load_library,
    parse_ruleset,
)

__all__ = [
    "COMPONENT_INPUT",
    "PRODUCT_INPUT",
    "ExpressionError",
    "RuleEvaluationError",
    "RulesetLibrary",
    "RulesetProgram",
    "UnknownRulesetError",
    "builtin_library",
    "compile_expression",
    "load_folder",
    "load_library",
    "parse_ruleset",
]
