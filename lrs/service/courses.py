"""Course structures: the ordered modules of a tenant's courses, declared over HTTP or with the CLI.

Format (JSON), as a list or as ``{"courses": [...]}``::

    [{"course_id": "https://brand.example/courses/onboarding", "name": "Onboarding",
      "modules": [{"module_id": "https://brand.example/courses/onboarding/modules/1", "name": "Welcome"}, ...]}]

Module ``position`` is optional (default: list order, from 1). A declaration replaces the course's previous
one; the funnel and the furthest-module figures follow it from the next recompute on (the affected analytics
slices are marked dirty right after the rows are written).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lrs.core.config import Settings
from lrs.core.kafka.markers import marker_key, marker_value
from lrs.core.store.clickhouse import ClickHouse


class StructureError(ValueError):
    """A course-structure document that cannot be stored."""


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StructureError(f"{where} must be a non-empty string")
    return value


def structure_rows(tenant: str, doc: Any, declared_us: int) -> list[list[Any]]:
    """Validate a structure document; return ``course_structure`` rows (all sharing ``declared_us``)."""
    courses = doc.get("courses") if isinstance(doc, dict) else doc
    if not isinstance(courses, list) or not courses:
        raise StructureError("expected a non-empty list of courses (or {\"courses\": [...]})")
    rows: list[list[Any]] = []
    seen_courses: set[str] = set()
    for i, course in enumerate(courses):
        if not isinstance(course, dict):
            raise StructureError(f"courses[{i}] must be an object")
        course_id = _text(course.get("course_id"), f"courses[{i}].course_id")
        if course_id in seen_courses:
            raise StructureError(f"courses[{i}]: course {course_id} declared twice")
        seen_courses.add(course_id)
        modules = course.get("modules")
        if not isinstance(modules, list) or not modules:
            raise StructureError(f"courses[{i}].modules must be a non-empty list")
        seen_modules: set[str] = set()
        positions: set[int] = set()
        for j, module in enumerate(modules):
            where = f"courses[{i}].modules[{j}]"
            if not isinstance(module, dict):
                raise StructureError(f"{where} must be an object")
            module_id = _text(module.get("module_id"), f"{where}.module_id")
            position = module.get("position", j + 1)
            if not isinstance(position, int) or isinstance(position, bool) or position < 1:
                raise StructureError(f"{where}.position must be an integer >= 1")
            if module_id in seen_modules or position in positions:
                raise StructureError(f"{where}: module id or position repeated")
            seen_modules.add(module_id)
            positions.add(position)
            rows.append([tenant, course_id, declared_us, module_id, position, str(module.get("name", "")),
                         str(course.get("name", ""))])
    return rows


def declare_structure(settings: Settings, clickhouse: ClickHouse, send: Callable[[str, bytes, bytes], None],
                      tenant: str, doc: Any) -> list[str]:
    """Store a declaration, then mark its courses' analytics slices dirty; return the course ids.

    ``send(topic, key, value)`` must return only once the broker acknowledged (``Publisher.send``).
    """
    rows = structure_rows(tenant, doc, int(time.time() * 1_000_000))
    clickhouse.insert("course_structure_insert", rows)
    courses = sorted({row[1] for row in rows})
    for course_id in courses:  # after the write, so the recompute reads the new structure
        send(settings.analytics_dirty_topic, marker_key(tenant, course_id), marker_value(tenant, course_id))
    return courses


def current_structure(clickhouse: ClickHouse, tenant: str) -> list[dict[str, Any]]:
    """The tenant's current structures in the declaration format."""
    courses: dict[str, dict[str, Any]] = {}
    for course_id, course_name, module_id, position, name, declared_us in clickhouse.run(
            "course_structure_get", {"tenant": tenant}):
        course = courses.setdefault(course_id, {"course_id": course_id, "name": course_name,
                                                "declared_us": declared_us, "modules": []})
        course["modules"].append({"module_id": module_id, "name": name, "position": position})
    return list(courses.values())
