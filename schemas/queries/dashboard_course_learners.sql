-- Dashboard panel "Learners of the course" (Course, table): each learner's status, progress and effort, most
-- recently active first (at most 500 rows), from learner_course.
-- params: {"tenant": "t", "course": "c"}
SELECT actor_ifi AS learner, status, first_seen, last_seen, furthest_position, statements, sessions,
       time_on_task_s, completed, passed, certified
FROM learner_course
WHERE tenant = %(tenant)s AND course_id = %(course)s
ORDER BY last_seen DESC, learner
LIMIT 500
