"""Our fast canonical JSON equals RFC 8785 (the `rfc8785` package) on leaf-shaped data."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from dronedeal.core.canonical import canonical_json

keys = st.text(alphabet=st.characters(codec="ascii"), max_size=12)
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(keys, inner, max_size=5)),
    max_leaves=20,
)


@given(documents)
def test_equals_rfc8785(document: Any) -> None:
    assert canonical_json(document).encode() == rfc8785.dumps(document)


def test_known_answer() -> None:
    doc = {"b": "Україна", "a": [1, None, True], "c": "tab\tquote\"\u0001"}
    assert canonical_json(doc) == '{"a":[1,null,true],"b":"Україна","c":"tab\\tquote\\"\\u0001"}'


@pytest.mark.parametrize("bad", [1.5, {"x": float("nan")}, 2**53, {1: "a"}])
def test_refuses_what_jcs_would_format_differently(bad: Any) -> None:
    with pytest.raises(TypeError):
        canonical_json(bad)
