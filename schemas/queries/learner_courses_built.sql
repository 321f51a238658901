-- Which of some courses have learner rows built from all of their statements (the others are recomputed whole
-- first).
-- params: {"tenant": "t", "courses": ["c"]}
SELECT DISTINCT course_id FROM learner_courses WHERE tenant = %(tenant)s AND course_id IN %(courses)s
