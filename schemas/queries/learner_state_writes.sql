-- The last learner_state write of each process to some courses of a tenant: a change by another writer than the
-- one holding a course in memory means its copy is out of date.
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, writer, max(version)
FROM learner_state_writes
WHERE tenant = %(tenant)s AND course_id IN %(courses)s
GROUP BY course_id, writer
