-- Dashboard panel "Activity per day" (Learner, time series): one learner's counting statements per UTC day
-- and course.
-- params: {"tenant": "t", "learner": "mbox:mailto:a@example.com", "from_s": 1788220800, "to_s": 1798761600}
SELECT toStartOfDay(a.at) AS time, if(n.course_name = '', a.course_id, n.course_name) AS course,
       count() AS statements
FROM (
    SELECT course_id, toDateTime(intDiv(timestamp_us, 1000000)) AS at
    FROM statements FINAL
    WHERE tenant = %(tenant)s AND actor_ifi = %(learner)s AND voided = 0 AND voiding_target = ''
      AND course_id != ''
) AS a
ANY LEFT JOIN (
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name
    FROM course_structure
    WHERE tenant = %(tenant)s
    GROUP BY course_id
) AS n ON a.course_id = n.n_course
WHERE a.at >= toDateTime(%(from_s)s) AND a.at <= toDateTime(%(to_s)s)
GROUP BY time, course
ORDER BY time, course
