-- Each learner's status in one published version of a course: what the at-risk events compare with after a
-- worker loads the course into memory.
-- params: {"tenant": "t", "course_id": "c", "version": 1}
SELECT actor_ifi, status
FROM learner_course_data
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND version = %(version)s
