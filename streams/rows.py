"""Turn a stored statement into a row of the raw ``statements`` table (column order of statements_insert)."""

from __future__ import annotations

from typing import Any

import orjson

from lrs.kafka.envelope import Envelope
from lrs.util.timeparse import duration_seconds, timestamp_micros
from lrs.xapi import actor_ifi
from streams.mapping import DEFAULT_RULES, MappingRules, map_course_module

VOIDED_VERB = "http://adlnet.gov/expapi/verbs/voided"


def _bool(value: Any) -> int | None:
    return int(value) if isinstance(value, bool) else None


def voiding_target(statement: dict[str, Any]) -> str:
    """The id a voiding statement voids, or ``""``."""
    obj = statement.get("object") or {}
    verb = (statement.get("verb") or {}).get("id")
    if verb == VOIDED_VERB and obj.get("objectType") == "StatementRef":
        return str(obj.get("id", "")).lower()
    return ""


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
    return [
        envelope.tenant,
        str(st["id"]).lower(),
        timestamp_micros(st["stored"]),
        timestamp_micros(st.get("timestamp") or st["stored"]),
        actor_ifi(st.get("actor") or {}),
        (st.get("verb") or {}).get("id", ""),
        str(obj.get("id", "")),
        obj.get("objectType", "Activity"),
        str(context.get("registration", "")).lower(),
        course,
        module,
        _bool(result.get("success")),
        _bool(result.get("completion")),
        float(scaled) if isinstance(scaled, int | float) and not isinstance(scaled, bool) else None,
        duration_seconds(duration) if isinstance(duration, str) else None,
        voiding_target(st),
        0,
        orjson.dumps(st).decode(),
        0,
    ]


VOIDED_COLUMN = 16
VERSION_COLUMN = 18
ID_COLUMN = 1
TENANT_COLUMN = 0
TARGET_COLUMN = 15
STORED_COLUMN = 2
