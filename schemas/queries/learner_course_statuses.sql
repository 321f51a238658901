-- Each learner's row status in some courses of a tenant (learner_course_rows): what the at-risk events compare
-- with after a worker loads a course into memory, and the rows a whole rewrite must mark gone when their learner is
-- not in memory.
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, actor_ifi, status
FROM learner_course_rows FINAL
WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
