"""A bound on JSON nesting: deeper documents cannot be re-encoded (orjson stops at 255 levels) or indexed."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64  # generous for any real extension; the Kafka envelope adds a few levels on top


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """True if ``value`` nests objects/arrays more than ``limit`` levels (iterative: no recursion limit)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False
