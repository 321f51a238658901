-- Dashboard panel "Learners" (Course, stat): the course's learners by state, from course_summary.
-- params: {"tenant": "t", "course": "c"}
SELECT learners_started AS started, active_learners AS active, completed, passed, certified, at_risk, dropped
FROM course_summary
WHERE tenant = %(tenant)s AND course_id = %(course)s
