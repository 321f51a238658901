-- Dashboard panel "Learners of the course" (Course, table): each learner's status, progress and effort, most
-- recently active first (at most 500 rows), from learner_course's rows (one key range of learner_course_rows).
-- params: {"tenant": "t", "course": "c"}
SELECT actor_ifi AS learner, status, first_seen, last_seen, furthest_position, statements, sessions,
       time_on_task_s, completed, passed, certified
FROM learner_course_rows FINAL
WHERE tenant = %(tenant)s AND course_id = %(course)s AND present = 1
ORDER BY last_seen DESC, learner
LIMIT 500
