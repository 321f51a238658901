"""Analytics markers: the small messages on the analytics-dirty topic that name a slice to recompute.

The HTTP service (course structures), the CLI and the sink all mark slices; the refresh worker reads them.
"""

from __future__ import annotations

import time

import orjson

Slice = tuple[str, str]


def marker_key(tenant: str, course_id: str) -> bytes:
    """Partitioning key of a slice's markers."""
    return f"{tenant}|{course_id}".encode()


def marker_value(tenant: str, course_id: str) -> bytes:
    """A marker: JSON, so tenants and course IRIs need no escaping rules."""
    return orjson.dumps({"tenant": tenant, "course_id": course_id, "marked_us": time.time_ns() // 1000})


def parse_marker(value: bytes | None) -> Slice | None:
    """The slice a marker names, or None for an unreadable message (skipped, never retried)."""
    try:
        doc = orjson.loads(value or b"")
        return str(doc["tenant"]), str(doc["course_id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
