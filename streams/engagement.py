"""Engagement: per tenant/course/day and per hour, active learners, statements, sessions, time-on-task.

Sessions are computed without window functions (ClickHouse 18.16 has none): per learner and course the sorted
statement timestamps, their differences, a gap above ``analytics_session_cap_s`` starts a new session and the
gaps within the cap add up to time-on-task. SQL: schemas/queries/analytics_engagement_{daily,hourly}.sql. Both are
kept per key (the newest row of each day or hour, only changed ones written): migration 037.
"""

from __future__ import annotations

from streams.analytics import SliceTable

_MEASURES = ("active_learners", "statements", "sessions", "time_on_task_s")

ENGAGEMENT_DAILY = SliceTable(
    view="engagement_daily", query="analytics_engagement_daily",
    columns=("tenant", "course_id", "day", *_MEASURES), key=("tenant", "course_id", "day"), per_key=True,
)
ENGAGEMENT_HOURLY = SliceTable(
    view="engagement_hourly", query="analytics_engagement_hourly",
    columns=("tenant", "course_id", "hour", *_MEASURES), key=("tenant", "course_id", "hour"), per_key=True,
)
TABLES = (ENGAGEMENT_DAILY, ENGAGEMENT_HOURLY)
