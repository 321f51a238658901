-- Batch recomputation of `cohort_retention`: weekly cohorts of learners by the Monday of their first statement in
-- the course; for each week since (0 = the cohort's week) up to the clock's week, learners active that week.
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, course_id, cohort_week, toUInt32(week_index) AS week_number, cohort_size,
       toUInt64(active_counts[indexOf(week_numbers, toInt64(week_index))]) AS active_learners,
       active_learners / cohort_size AS retention
FROM (
    SELECT course_id, cohort_week, groupArray(wn) AS week_numbers, groupArray(active) AS active_counts,
           toUInt64(sumIf(active, wn = 0)) AS cohort_size,
           greatest(max(wn), intDiv(toInt64(toUInt32(toMonday(toDate(toDateTime(intDiv(toInt64(%(clock_us)s), 1000000),
                    'UTC'), 'UTC')))) - toInt64(toUInt32(cohort_week)), 7)) AS last_week
    FROM (
        SELECT course_id, cohort_week, intDiv(toInt64(toUInt32(week)) - toInt64(toUInt32(cohort_week)), 7) AS wn,
               count() AS active
        FROM (
            SELECT course_id, actor_ifi,
                   groupUniqArray(toMonday(toDate(toDateTime(intDiv(timestamp_us, 1000000), 'UTC'), 'UTC'))) AS weeks,
                   min(toMonday(toDate(toDateTime(intDiv(timestamp_us, 1000000), 'UTC'), 'UTC'))) AS cohort_week
            FROM (
        SELECT course_id, actor_ifi, timestamp_us, verb_id, object_id, module_id, result_success, result_completion,
               toUInt8(verb_id IN %(cert_verbs)s OR match(statement, %(cert_pattern)s)) AS is_certificate
        FROM statements FINAL
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND voided = 0 AND voiding_target = ''
            )
            GROUP BY course_id, actor_ifi
        ) ARRAY JOIN weeks AS week
        GROUP BY course_id, cohort_week, wn
    )
    GROUP BY course_id, cohort_week
) ARRAY JOIN range(toUInt64(greatest(last_week, 0) + 1)) AS week_index
