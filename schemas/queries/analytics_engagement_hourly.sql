-- Batch recomputation of `engagement_hourly`: per course and UTC hour, active learners, statements, sessions
-- started in that hour and time-on-task (in-session gaps, counted in the hour of the statement ending the gap).
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, course_id, hour, uniqExact(actor_ifi) AS active_learners, count() AS statements,
       toUInt64(sum(starts)) AS sessions, sum(gap_in) / 1000000 AS time_on_task_s
FROM (
    SELECT course_id, actor_ifi, toDateTime(intDiv(t, 3600000000) * 3600) AS hour,
           toUInt8(i = 1 OR gap > %(cap_us)s) AS starts, if(i > 1 AND gap <= %(cap_us)s, gap, 0) AS gap_in
    FROM (
        SELECT course_id, actor_ifi, arraySort(groupArray(timestamp_us)) AS ts
        FROM (
        SELECT course_id, actor_ifi, timestamp_us, verb_id, object_id, module_id, result_success, result_completion,
               toUInt8(verb_id IN %(cert_verbs)s OR match(statement, %(cert_pattern)s)) AS is_certificate
        FROM statements FINAL
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND voided = 0 AND voiding_target = ''
        )
        GROUP BY course_id, actor_ifi
    ) ARRAY JOIN ts AS t, arrayDifference(ts) AS gap, arrayEnumerate(ts) AS i
)
GROUP BY course_id, hour
