-- Which of some (course, learner) pairs of a tenant have a (non-tombstone) learner_state row: a learner whose
-- statements are all gone gets a tombstone only if it has a row to supersede (an erased learner's rows were
-- deleted, and no new row may name it again).
-- params: {"tenant": "t", "pairs": [["c", "mbox:mailto:a@example.com"]]}
SELECT course_id, actor_ifi
FROM learner_state FINAL
WHERE tenant = %(tenant)s AND (course_id, actor_ifi) IN %(pairs)s AND present = 1
