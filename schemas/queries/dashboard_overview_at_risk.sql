-- Dashboard panel "At-risk and dropped learners now" (Brand overview, table): learners whose status is at_risk
-- or dropped, longest silent first (at most 200 rows), with the course name and where they stopped.
-- params: {"tenant": "t"}
SELECT l.actor_ifi AS learner, if(n.course_name = '', l.course_id, n.course_name) AS course, l.status AS status,
       l.last_seen AS last_seen, l.inactive_s AS inactive_s, l.furthest_position AS furthest_position,
       l.time_on_task_s AS time_on_task_s
FROM (
    -- inactive_s as the learner_course view computes it: from the course's published clock
    SELECT actor_ifi, course_id, status, last_seen, intDiv(w_watermark - last_seen_us, 1000000) AS inactive_s,
           furthest_position, time_on_task_s
    FROM (
        SELECT actor_ifi, course_id, status, last_seen, last_seen_us, furthest_position, time_on_task_s
        FROM learner_course_rows FINAL
        WHERE tenant = %(tenant)s AND present = 1 AND status IN ('at_risk', 'dropped')
    ) AS r
    ALL INNER JOIN (
        SELECT course_id AS w_course, argMax(watermark_us, version) AS w_watermark
        FROM analytics_slices
        WHERE tenant = %(tenant)s
        GROUP BY course_id
    ) AS w ON r.course_id = w.w_course
) AS l
ANY LEFT JOIN (
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name
    FROM course_structure
    WHERE tenant = %(tenant)s
    GROUP BY course_id
) AS n ON l.course_id = n.n_course
ORDER BY status = 'at_risk' DESC, inactive_s DESC, learner
LIMIT 200
