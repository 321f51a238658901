"""Progress and drop-off: the per-learner state machine, the module funnel, course summaries, at-risk events.

Per learner and course (``learner_course``): ``started`` -> ``completed`` | ``at_risk`` | ``dropped`` plus the
``passed`` and ``certified`` flags, the furthest module reached (declared order, else inferred from learners'
first visits), sessions and time-on-task. Statuses are relative to the slice's clock (event-time watermark by
default). SQL: schemas/queries/analytics_{learner_course,course_funnel,course_summary,at_risk_learners,
course_time_on_task}.sql.
``at_risk_learners`` holds, per course, the longest-silent at-risk and then dropped learners (at most 200): what the
brand overview's at-risk panel lists, without reading every learner of the tenant. ``course_time_on_task`` holds, per
course, the learners by total time on task in 15-minute bins (the course dashboard's time-on-task panel).

When a recompute moves a learner into ``at_risk`` or ``dropped`` (compared with the slice's previous version),
an event goes to ``analytics_at_risk_topic`` (schema: schemas/events/at_risk.schema.json).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from streams.analytics import SliceTable

LEARNER_COURSE = SliceTable(
    view="learner_course", query="analytics_learner_course",
    columns=("tenant", "course_id", "actor_ifi", "first_seen", "last_seen", "first_seen_us", "last_seen_us",
             "cohort_week", "statements", "sessions", "time_on_task_s", "furthest_module", "furthest_position",
             "status", "completed", "passed", "certified", "inactive_s", "watermark_us"),
    key=("tenant", "course_id", "actor_ifi"),
    per_learner_computed=("inactive_s", "watermark_us"),
)
COURSE_FUNNEL = SliceTable(
    view="course_funnel", query="analytics_course_funnel",
    columns=("tenant", "course_id", "position", "module_id", "declared", "learners_reached", "dropped_here"),
    key=("tenant", "course_id", "position", "module_id"),
)
COURSE_SUMMARY = SliceTable(
    view="course_summary", query="analytics_course_summary",
    columns=("tenant", "course_id", "learners_started", "active_learners", "completed", "passed", "certified",
             "at_risk", "dropped", "completion_rate", "pass_rate", "certificate_conversion", "top_dropoff_module",
             "top_dropoff_position", "top_dropoff_learners", "watermark_us"),
    key=("tenant", "course_id"),
)
AT_RISK_LEARNERS = SliceTable(
    view="at_risk_learners", query="analytics_at_risk_learners",
    columns=("tenant", "course_id", "actor_ifi", "status", "last_seen", "last_seen_us", "inactive_s",
             "furthest_module", "furthest_position", "time_on_task_s"),
    key=("tenant", "course_id", "actor_ifi"),
)
COURSE_TIME_ON_TASK = SliceTable(
    view="course_time_on_task", query="analytics_course_time_on_task",
    columns=("tenant", "course_id", "bin", "learners"),
    key=("tenant", "course_id", "bin"), clock_free=True,
)
TABLES = (LEARNER_COURSE, COURSE_FUNNEL, COURSE_SUMMARY, AT_RISK_LEARNERS, COURSE_TIME_ON_TASK)

EVENT_SCHEMA = "https://xapi-stream-lrs.example/schemas/events/at_risk.schema.json"
# Stable ids: the same learner entering the same state after the same last statement is the same event,
# so a replay (crash between publish and slice swap) repeats an id instead of inventing a new event.
_EVENT_NAMESPACE = uuid.UUID("6f1c3c55-2f43-4a8e-9d6b-0b7c2b1d9a10")


def _iso(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1_000_000, tz=dt.UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def event_id(tenant: str, course_id: str, actor_ifi: str, status: str, last_seen_us: int) -> str:
    """The stable id of "this learner entered this state after this last statement"."""
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{tenant}|{course_id}|{actor_ifi}|{status}|{last_seen_us}"))


def at_risk_event(tenant: str, course_id: str, change: tuple, *, clock: str, detected_us: int) -> dict[str, Any]:
    """The JSON event for one status change found by ``CourseState.derive`` (streams/course_state.py)."""
    actor_ifi, status, previous, last_seen_us, inactive_s, furthest_module, watermark_us = change
    return {
        "schema": EVENT_SCHEMA,
        "event_id": event_id(tenant, course_id, actor_ifi, status, int(last_seen_us)),
        "type": f"learner.{status}",
        "tenant": tenant,
        "course_id": course_id,
        "actor_ifi": actor_ifi,
        "status": status,
        "previous_status": previous or None,
        "last_seen": _iso(int(last_seen_us)),
        "inactive_s": int(inactive_s),
        "furthest_module": furthest_module or None,
        "clock": clock,
        "clock_time": _iso(int(watermark_us)),
        "detected_at": _iso(detected_us),
    }


def event_key(event: dict[str, Any]) -> bytes:
    """Kafka key: one learner of one tenant on one partition, like the statements topic."""
    return f"{event['tenant']}|{event['actor_ifi']}".encode()
