"""Canonical JSON (RFC 8785, JCS) for log leaves.

Leaves hold only objects, arrays, strings, integers, booleans and null: amounts are
decimal strings and counts are integers well inside 2**53, so JCS reduces to sorted
keys, no whitespace and ECMAScript string escaping, which is what the standard
library's C encoder does with `ensure_ascii=False`. Keys are ASCII, so code-point
order equals JCS's UTF-16 order. Floats are refused rather than risk a number format
that differs from JCS; the test suite checks equality with the `rfc8785` package.
"""

from __future__ import annotations

import json
from typing import Any

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                            allow_nan=False)


def _check(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("canonical leaves carry no floats: write amounts as decimal strings")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**53:
        raise TypeError("integers in canonical leaves must stay below 2**53")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("canonical JSON object keys are strings")
            _check(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item)


def canonical_json(value: Any) -> str:
    """The RFC 8785 canonical form of `value` as text; hash its UTF-8 bytes."""
    _check(value)
    return _encoder.encode(value)
