-- `engagement_daily` derived from the learners' per-day contributions (learner_state.day_*, days kept as the Unix second they start): equal row for row to
-- analytics_engagement_daily over `statements` (the batch query).
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, course_id, toDate(toDateTime(day_s, 'UTC'), 'UTC') AS day, count() AS active_learners, sum(n) AS statements,
       sum(starts) AS sessions, sum(gap_us) / 1000000 AS time_on_task_s
FROM (
    SELECT course_id, day_s, n, starts, gap_us
    FROM learner_state FINAL
    ARRAY JOIN day_keys_s AS day_s, day_statements AS n, day_starts AS starts, day_gap_us AS gap_us
    WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
)
GROUP BY course_id, day_s
