"""The one error type of statement validation, and its translation from pydantic's errors."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError

# Error types raised by lrs.core.xapi.common (kept here too so this module stands alone).
RULE_ERROR = "xapi_rule"
OBJECT_TYPE_ERROR = "xapi_object_type"
# Data 2.2.s4.b1.b1: what a null input is told, whichever check refused it.
NULL_REASON = "must not be null (null is only allowed inside extensions)"
# Tags pydantic inserts into error locations for discriminated unions; they are not statement properties.
UNION_TAGS = frozenset({"Activity", "Agent", "Group", "SubStatement", "StatementRef"})
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_ERRORS = 3
_MAX_SHOWN = 60
_MISSING = object()


class XAPIValidationError(ValueError):
    """A statement broke an xAPI rule.

    ``message`` is human-readable: it says which statement (index), which property path and which rule,
    e.g. ``statements[3].actor.mbox: must be a mailto: IRI``.
    """

    def __init__(self, message: str, *, index: int | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.index = index
        self.path = path

    def __str__(self) -> str:
        return self.message


def statement_prefix(index: int | None) -> str:
    """``statements[i]`` inside a batch, ``statement`` for a single one."""
    return "statement" if index is None else f"statements[{index}]"


def format_path(prefix: str, loc: Sequence[str | int]) -> str:
    """``prefix.a.b[0]['http://x']`` from a location tuple."""
    parts = [prefix]
    for part in loc:
        if isinstance(part, int):
            parts.append(f"[{part}]")
        elif _IDENTIFIER.match(part):
            parts.append(f".{part}")
        else:
            parts.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(parts)


def _clean_loc(loc: Sequence[str | int], data: Any) -> tuple[list[str | int], Any]:
    """Follow ``loc`` through the input: drop union tags and list indexes the input does not have.

    Returns the cleaned location and the input value found there (``_MISSING`` if absent).
    """
    out: list[str | int] = []
    node: Any = data
    for part in loc:
        in_dict = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and part in UNION_TAGS:
            continue
        elif isinstance(part, int) and isinstance(node, dict):
            # A single Activity in contextActivities is validated as a one-element list.
            continue
        else:
            out.append(part)
            node = _MISSING
    return out, node


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


_TYPE_MESSAGES = {
    "string_type": "must be a string",
    "bool_type": "must be a boolean (true or false)",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be an array",
    "missing": "is required",
    "extra_forbidden": "is not a property allowed here by the xAPI specification",
    "int_from_float": "must be an integer",
}


def _reason(error: dict[str, Any], value: Any) -> str:
    kind = error["type"]
    if kind == RULE_ERROR and not (error.get("ctx") or {}).get("show_value", True):
        return error["msg"]  # the rule's message already names the value
    if value is None and kind not in ("missing", "extra_forbidden"):
        return NULL_REASON
    if kind in _TYPE_MESSAGES:
        reason = _TYPE_MESSAGES[kind]
    elif kind == "literal_error":
        reason = error["msg"].replace("Input should be", "must be") + " (case-sensitive)"
    else:
        reason = error["msg"].replace("Input should be", "must be")
    if kind not in ("missing", "extra_forbidden") and value is not _MISSING and not isinstance(value, dict | list):
        reason += f" (got {_shown(value)})"
    return reason


def from_pydantic(exc: ValidationError, data: Any, *, index: int | None) -> XAPIValidationError:
    """An :class:`XAPIValidationError` naming the first few broken rules of ``data``, with readable paths."""
    prefix = statement_prefix(index)
    found: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False):
        loc = list(error["loc"])
        if error["type"] == RULE_ERROR:
            loc.extend((error.get("ctx") or {}).get("path", ()))
        elif error["type"] == OBJECT_TYPE_ERROR:
            loc.append("objectType")
        clean, value = _clean_loc(loc, data)
        item = (format_path(prefix, clean), _reason(error, value))
        if item not in found:
            found.append(item)
    shown = "; ".join(f"{path}: {reason}" for path, reason in found[:_MAX_ERRORS])
    if len(found) > _MAX_ERRORS:
        shown += f" (and {len(found) - _MAX_ERRORS} more)"
    return XAPIValidationError(shown, index=index, path=found[0][0] if found else prefix)
