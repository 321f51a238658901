"""Document merge for POST (xAPI Communication 2.2): JSON objects merge their top-level keys."""

from __future__ import annotations

from typing import Any

import orjson

from lrs.core.documents.keys import is_json_type


class MergeError(ValueError):
    """The documents cannot be merged; the LRS answers 400 and leaves the stored document unchanged."""


def json_object(content: bytes) -> dict[str, Any] | None:
    """The JSON object in ``content``, or None if it is not valid JSON or not an object."""
    try:
        value = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def merge_documents(existing: bytes, existing_type: str, new: bytes, new_type: str) -> bytes:
    """Merge ``new`` into ``existing``: top-level keys of the new document override (one level deep).

    Both must be ``application/json`` JSON objects, else :class:`MergeError` saying which one is not.
    """
    if not is_json_type(existing_type):
        raise MergeError("the stored document is not application/json, so it cannot be merged; use PUT")
    if not is_json_type(new_type):
        raise MergeError("a POST to an existing JSON document must be application/json (a JSON object)")
    old_obj = json_object(existing)
    if old_obj is None:
        raise MergeError("the stored document is not a JSON object, so it cannot be merged; use PUT")
    new_obj = json_object(new)
    if new_obj is None:
        raise MergeError("the posted document is not a JSON object")
    return orjson.dumps({**old_obj, **new_obj})
