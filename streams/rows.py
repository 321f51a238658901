"""Turn a stored statement into a row of the raw ``statements`` table (column order of statements_insert)."""

from __future__ import annotations

import functools
from typing import Any

import orjson

from lrs.core.kafka.envelope import Envelope
from lrs.core.util.timeparse import duration_seconds, timestamp_micros
from lrs.core.xapi import actor_ifi
from streams.mapping import DEFAULT_RULES, MappingRules, map_course_module

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"

COLUMNS = (
    "tenant", "statement_id", "stored_us", "timestamp_us", "actor_ifi", "verb_id", "object_id", "object_type",
    "registration", "agents", "related_agents", "related_activities", "client_key", "course_id", "module_id",
    "result_success", "result_completion", "result_score_scaled", "result_duration_s", "voiding_target", "voided",
    "statement", "version",
)
COL = {name: i for i, name in enumerate(COLUMNS)}


# A request's statements share one stored time: parse it once per request, not once per statement.
stored_micros = functools.lru_cache(maxsize=1024)(timestamp_micros)


def _bool(value: Any) -> int | None:
    return int(value) if isinstance(value, bool) else None


def voiding_target(statement: dict[str, Any]) -> str:
    """The id a voiding statement voids, or ``""``."""
    obj = statement.get("object") or {}
    verb = (statement.get("verb") or {}).get("id")
    if verb == VOIDED_VERB and obj.get("objectType") == "StatementRef":
        return str(obj.get("id", "")).lower()
    return ""


def _is_agent(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("objectType") in ("Agent", "Group")


def _with_members(actor: Any) -> list[str]:
    """IFI of an Agent/Group plus the IFIs of a Group's members."""
    if not isinstance(actor, dict):
        return []
    ifis = [actor_ifi(actor)]
    ifis += [actor_ifi(m) for m in actor.get("member") or [] if isinstance(m, dict)]
    return [i for i in ifis if i]


def _context_activity_ids(context: Any) -> list[str]:
    activities = (context or {}).get("contextActivities") or {}
    ids = []
    for value in activities.values():
        for activity in value if isinstance(value, list) else [value]:
            if isinstance(activity, dict) and "id" in activity:
                ids.append(activity["id"])
    return ids


def _related(statement: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(agents, related agents, related activities) for the statement query filters."""
    obj = statement.get("object") or {}
    context = statement.get("context") or {}
    agents = _with_members(statement.get("actor"))
    if _is_agent(obj):
        agents += _with_members(obj)
    related_agents = list(agents) + _with_members(statement.get("authority"))
    for prop in ("instructor", "team"):
        related_agents += _with_members(context.get(prop))
    for item in context.get("contextAgents") or []:
        related_agents += _with_members(item.get("agent"))
    for item in context.get("contextGroups") or []:
        related_agents += _with_members(item.get("group"))
    activities = [obj["id"]] if obj.get("objectType", "Activity") == "Activity" and "id" in obj else []
    activities += _context_activity_ids(context)
    if obj.get("objectType") == "SubStatement":
        sub_agents, sub_related, sub_activities = _related(obj)
        related_agents += sub_related
        activities += sub_activities
    dedupe = lambda items: list(dict.fromkeys(items))  # noqa: E731 - keeps first-seen order
    return dedupe(agents), dedupe(related_agents), dedupe(activities)


def statement_row(envelope: Envelope, rules: MappingRules = DEFAULT_RULES) -> list[Any]:
    """One raw-table row; ``voided`` starts at 0 and is fixed up by the sink."""
    st = envelope.statement
    obj = st.get("object") or {}
    result = st.get("result") or {}
    score = result.get("score") or {}
    context = st.get("context") or {}
    course, module = map_course_module(st, rules)
    duration = result.get("duration")
    scaled = score.get("scaled")
    agents, related_agents, related_activities = _related(st)
    object_id = str(obj.get("id", ""))
    object_type = obj.get("objectType", "Activity")
    stored = st["stored"]
    stored_us = stored_micros(stored)
    timestamp = st.get("timestamp") or stored
    # The row in COLUMNS order, built directly (no per-row dict): the sink builds one per statement.
    return [
        envelope.tenant,
        str(st["id"]).lower(),
        stored_us,
        stored_us if timestamp == stored else timestamp_micros(timestamp),
        actor_ifi(st.get("actor") or {}),
        (st.get("verb") or {}).get("id", ""),
        # StatementRef targets are compared with statement ids, which are stored lower-case.
        object_id.lower() if object_type == "StatementRef" else object_id,
        object_type,
        str(context.get("registration", "")).lower(),
        agents,
        related_agents,
        related_activities,
        envelope.client_key,
        course,
        module,
        _bool(result.get("success")),
        _bool(result.get("completion")),
        float(scaled) if isinstance(scaled, int | float) and not isinstance(scaled, bool) else None,
        duration_seconds(duration) if isinstance(duration, str) else None,
        voiding_target(st),
        0,  # voided
        orjson.dumps(st).decode(),
        0,  # version
    ]
