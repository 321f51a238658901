"""Cohorts: weekly cohorts of a course's learners by first-seen week (Monday, UTC), retention by week since.

SQL: schemas/queries/analytics_cohort_retention.sql. Weeks with no active learner are present with 0, up to
the clock's week, so the classic triangle has no holes. Kept per key (the newest row of each cohort week and week
number, only changed ones written): migration 038.
"""

from __future__ import annotations

from streams.analytics import SliceTable

COHORT_RETENTION = SliceTable(
    view="cohort_retention", query="analytics_cohort_retention",
    columns=("tenant", "course_id", "cohort_week", "week_number", "cohort_size", "active_learners", "retention"),
    key=("tenant", "course_id", "cohort_week", "week_number"), per_key=True,
)
TABLES = (COHORT_RETENTION,)
