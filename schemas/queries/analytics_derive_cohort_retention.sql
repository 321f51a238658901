-- `cohort_retention` derived from the learners' rows (learner_state.cohort_week_s and weeks_s, Mondays as Unix
-- seconds): equal row for row to analytics_cohort_retention over `statements` (the batch query).
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
        SELECT course_id, toDate(toDateTime(cohort_week_s, 'UTC'), 'UTC') AS cohort_week,
               intDiv(week_s - cohort_week_s, 604800) AS wn, count() AS active
        FROM learner_state FINAL
        ARRAY JOIN weeks_s AS week_s
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
        GROUP BY course_id, cohort_week_s, wn
    )
    GROUP BY course_id, cohort_week
) ARRAY JOIN range(toUInt64(greatest(last_week, 0) + 1)) AS week_index
