"""Course mapping: derive ``course_id`` and ``module_id`` from a statement (default rules).

Course: the first activity among the object, ``context.contextActivities.parent`` and ``grouping`` whose
``definition.type`` is the ADL course type; else the first grouping activity; else the first parent.
Module: the object, else the first parent, whose type is the ADL module or lesson type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPES = ("http://adlnet.gov/expapi/activities/module", "http://adlnet.gov/expapi/activities/lesson")


@dataclass(frozen=True)
class MappingRules:
    """Activity types that mark a course and a module; configurable per tenant."""

    course_types: tuple[str, ...] = (COURSE_TYPE,)
    module_types: tuple[str, ...] = MODULE_TYPES
    overrides: dict[str, Any] = field(default_factory=dict)


DEFAULT_RULES = MappingRules()


def _as_list(value: Any) -> list[dict[str, Any]]:
    # 1.0.x allows a single activity object where an array is expected.
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict)]
    return []


def _type(activity: dict[str, Any]) -> str:
    definition = activity.get("definition")
    return definition.get("type", "") if isinstance(definition, dict) else ""


def _is_activity(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("objectType", "Activity") == "Activity" and "id" in obj


def map_course_module(statement: dict[str, Any], rules: MappingRules = DEFAULT_RULES) -> tuple[str, str]:
    """Return ``(course_id, module_id)``; empty strings when the statement names none."""
    obj = statement.get("object")
    context = statement.get("context") or {}
    activities = context.get("contextActivities") or {} if isinstance(context, dict) else {}
    parents = _as_list(activities.get("parent")) if isinstance(activities, dict) else []
    grouping = _as_list(activities.get("grouping")) if isinstance(activities, dict) else []
    own = [obj] if _is_activity(obj) else []

    course = next((a["id"] for a in own + parents + grouping if _type(a) in rules.course_types and "id" in a), "")
    if not course:
        course = next((a["id"] for a in grouping + parents if "id" in a), "")
    module = next((a["id"] for a in own + parents if _type(a) in rules.module_types and "id" in a), "")
    return course, module
