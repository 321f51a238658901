"""The JSON depth bound on request bytes agrees with a walk over the parsed document."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from lrs.core.util.jsondepth import too_deep

# Strings full of what could fool a byte scan: brackets, quotes, backslashes, escapes, non-ASCII.
tricky_text = st.text(alphabet=st.sampled_from(list('[]{}"\\/nu aé€\n\t')), max_size=8)
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)  # orjson's int range
           | st.floats(allow_nan=False, allow_infinity=False) | tricky_text)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(tricky_text, children, max_size=4),
    max_leaves=40,
)


def depth(value: Any) -> int:
    """Nesting depth by walking the parsed value (the reference)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


@settings(max_examples=500, deadline=None)
@given(json_values, st.integers(min_value=0, max_value=6))
def test_agrees_with_a_walk_of_the_parsed_document(value: Any, limit: int) -> None:
    body = orjson.dumps(value)
    assert too_deep(body, limit) == (depth(value) > limit)


def test_deep_nesting_and_brackets_inside_strings() -> None:
    nested: Any = "x"
    for _ in range(65):
        nested = {"k": [nested]} if isinstance(nested, list) else [nested]
    assert too_deep(orjson.dumps(nested))  # 65 levels > 64
    assert not too_deep(orjson.dumps({"a": "[[[[[[[[" * 50, "b": '\\"{{{{' * 50}))
    assert not too_deep(b'{"a": "\\\\", "b": [1, {"c": "\\\\\\""}]}', limit=3)
    assert too_deep(b'{"a": "\\\\", "b": [1, {"c": [[]]}]}', limit=3)
