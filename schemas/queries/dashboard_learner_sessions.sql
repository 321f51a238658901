-- Dashboard panel "Sessions" (Learner, table): one learner's sessions in the time range, latest first: a
-- session ends at a gap longer than the session cap between two statements in a course (docs/metrics.md).
-- params: {"tenant": "t", "learner": "mbox:mailto:a@example.com", "from_s": 1788220800, "to_s": 1798761600, "session_cap_s": 1800}
SELECT toDateTime(intDiv(min(t), 1000000)) AS started, toDateTime(intDiv(max(t), 1000000)) AS ended,
       course_id AS course, count() AS statements, (max(t) - min(t)) / 1000000 AS duration_s
FROM (
    SELECT course_id, ts,
           arrayCumSum(arrayMap((g, i) -> toUInt32(i = 1 OR g > %(session_cap_s)s * 1000000),
                                arrayDifference(ts), arrayEnumerate(ts))) AS session_numbers
    FROM (
        SELECT course_id, arraySort(groupArray(timestamp_us)) AS ts
        FROM (
            SELECT course_id, timestamp_us, statement_id
            FROM statements_by_learner
            WHERE tenant = %(tenant)s AND actor_ifi = %(learner)s AND timestamp_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
      AND timestamp_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000
              AND voiding_target = '' AND course_id != ''
              AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
            LIMIT 1 BY statement_id
        )
        GROUP BY course_id
    )
) ARRAY JOIN ts AS t, session_numbers AS session
GROUP BY course_id, session
ORDER BY started DESC
LIMIT 200
