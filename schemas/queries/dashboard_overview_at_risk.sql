-- Dashboard panel "At-risk and dropped learners now" (Brand overview, table): learners whose status is at_risk
-- or dropped, longest silent first (at most 200 rows), with the course name and where they stopped. Read from
-- at_risk_learners (each course's first 200 in this order, kept by the worker), not from every learner row.
-- params: {"tenant": "t"}
SELECT a.actor_ifi AS learner, if(n.course_name = '', a.course_id, n.course_name) AS course, a.status AS status,
       a.last_seen AS last_seen, a.inactive_s AS inactive_s, a.furthest_position AS furthest_position,
       a.time_on_task_s AS time_on_task_s
FROM (
    SELECT actor_ifi, course_id, status, last_seen, inactive_s, furthest_position, time_on_task_s
    FROM at_risk_learners
    WHERE tenant = %(tenant)s
) AS a
ANY LEFT JOIN (
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name
    FROM course_structure
    WHERE tenant = %(tenant)s
    GROUP BY course_id
) AS n ON a.course_id = n.n_course
ORDER BY status = 'at_risk' DESC, inactive_s DESC, learner
LIMIT 200
