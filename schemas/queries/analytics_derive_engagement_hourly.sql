-- `engagement_hourly` derived from the learners' per-hour contributions (learner_state.hour_*): equal row for row to
-- analytics_engagement_hourly over `statements` (the batch query).
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, course_id, toDateTime(hour_start) AS hour, count() AS active_learners,
       sum(n) AS statements, sum(starts) AS sessions, sum(gap_us) / 1000000 AS time_on_task_s
FROM (
    SELECT course_id, hour_start, n, starts, gap_us
    FROM learner_state FINAL
    ARRAY JOIN hour_keys_s AS hour_start, hour_statements AS n, hour_starts AS starts, hour_gap_us AS gap_us
    WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
)
GROUP BY course_id, hour_start
