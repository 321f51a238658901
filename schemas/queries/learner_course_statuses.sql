-- Each learner's row status in one course (learner_course_rows): what the at-risk events compare with after a worker
-- loads the course into memory, and the rows a whole rewrite must mark gone when their learner is not in memory.
-- params: {"tenant": "t", "course_id": "c"}
SELECT actor_ifi, status
FROM learner_course_rows FINAL
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND present = 1
