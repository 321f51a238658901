-- Dashboard panel "Courses of the learner" (Learner, table): status and progress of one learner in each of
-- their courses (furthest module position out of the course's modules), from learner_course.
-- params: {"tenant": "t", "learner": "mbox:mailto:a@example.com"}
SELECT if(n.course_name = '', l.course_id, n.course_name) AS course, l.status AS status,
       if(n.modules = 0, 0, l.furthest_position / n.modules) AS progress, l.furthest_position AS furthest_position,
       n.modules AS modules, l.first_seen AS first_seen, l.last_seen AS last_seen, l.statements AS statements,
       l.sessions AS sessions, l.time_on_task_s AS time_on_task_s, l.completed AS completed, l.passed AS passed,
       l.certified AS certified
FROM (
    SELECT course_id, status, furthest_position, first_seen, last_seen, statements, sessions, time_on_task_s,
           completed, passed, certified
    FROM learner_course_rows FINAL
    WHERE tenant = %(tenant)s AND actor_ifi = %(learner)s AND present = 1
) AS l
ANY LEFT JOIN (
    -- the name and module count of the course's latest declared structure
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name,
           toUInt32(argMax(n_modules, declared_us)) AS modules
    FROM (
        SELECT course_id, declared_us, any(course_name) AS course_name, uniqExact(module_id) AS n_modules
        FROM course_structure
        WHERE tenant = %(tenant)s
        GROUP BY course_id, declared_us
    )
    GROUP BY course_id
) AS n ON l.course_id = n.n_course
ORDER BY last_seen DESC, course
