-- Whether a course's learner rows were built from all of its statements (else it is recomputed whole first).
-- params: {"tenant": "t", "course_id": "c"}
SELECT count() FROM learner_courses WHERE tenant = %(tenant)s AND course_id = %(course_id)s
