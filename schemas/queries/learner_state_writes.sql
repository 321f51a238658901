-- The last learner_state write of each process to one course: a change by another writer than the one holding the
-- course in memory means its copy is out of date.
-- params: {"tenant": "t", "course_id": "c"}
SELECT writer, max(version)
FROM learner_state_writes
WHERE tenant = %(tenant)s AND course_id = %(course_id)s
GROUP BY writer
