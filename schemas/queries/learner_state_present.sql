-- Learners of a course that have a (non-tombstone) learner_state row: a whole-course recompute also rewrites
-- those whose statements are all gone.
-- params: {"tenant": "t", "course_id": "c"}
SELECT actor_ifi
FROM learner_state FINAL
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND present = 1
