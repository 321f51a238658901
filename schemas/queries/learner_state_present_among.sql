-- Which of some learners of a course have a (non-tombstone) learner_state row: a learner whose statements are
-- all gone gets a tombstone only if it has a row to supersede (an erased learner's rows were deleted, and no
-- new row may name it again).
-- params: {"tenant": "t", "course_id": "c", "learners": ["mbox:mailto:a@example.com"]}
SELECT actor_ifi
FROM learner_state FINAL
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND actor_ifi IN %(learners)s AND present = 1
