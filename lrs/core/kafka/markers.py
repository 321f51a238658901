"""Analytics markers: the small messages on the analytics-dirty topic that name a slice (and learners) to recompute.

The HTTP service (course structures), the CLI and the sink all mark slices; the refresh worker reads them.
"""

from __future__ import annotations

import time

import orjson

Slice = tuple[str, str]
# A marker naming learners recomputes those learners' rows, then derives the course; one naming no learners
# list (``marker_value``: course structures, ``lrs analytics refresh``) recomputes every learner of the course;
# an empty list only derives the course again (the tenant's clock moved).
Work = tuple[str, str, tuple[str, ...] | None]
# Named in a marker's learners when a learner left the slice without a row to recompute (an erasure deleted it):
# the course is derived again from its learner rows, never copied from its previous version, which still counts
# the learner. No identifier of the erased learner travels in the marker.
LEARNER_LEFT = ""


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


def learners_marker_value(tenant: str, course_id: str, learners: list[str] | tuple[str, ...]) -> bytes:
    """A marker for some learners of a slice (``[]``: derive the slice again, no learner changed)."""
    return orjson.dumps({"tenant": tenant, "course_id": course_id, "learners": sorted(learners),
                         "marked_us": time.time_ns() // 1000})


def parse_work(value: bytes | None) -> Work | None:
    """(tenant, course, learners or None for all of them) of a marker; None for an unreadable message."""
    try:
        doc = orjson.loads(value or b"")
        tenant, course_id, learners = str(doc["tenant"]), str(doc["course_id"]), doc.get("learners")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None
    if learners is None:
        return tenant, course_id, None
    if not isinstance(learners, list):
        return None
    return tenant, course_id, tuple(str(a) for a in learners)
