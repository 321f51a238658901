-- Dashboard panel "Activity per day" (Learner, time series): one learner's counting statements per UTC day
-- and course.
-- params: {"tenant": "t", "learner": "mbox:mailto:a@example.com", "from_s": 1788220800, "to_s": 1798761600}
SELECT toStartOfDay(a.at) AS time, if(n.course_name = '', a.course_id, n.course_name) AS course,
       uniqExact(a.statement_id) AS statements
FROM (
    SELECT course_id, statement_id, toDateTime(intDiv(timestamp_us, 1000000)) AS at
    FROM statements_by_learner
    WHERE tenant = %(tenant)s AND actor_ifi = %(learner)s AND timestamp_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
      AND timestamp_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000
      AND voiding_target = '' AND course_id != ''
      AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
) AS a
ANY LEFT JOIN (
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name
    FROM course_structure
    WHERE tenant = %(tenant)s
    GROUP BY course_id
) AS n ON a.course_id = n.n_course
GROUP BY time, course
ORDER BY time, course
