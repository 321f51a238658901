-- The counting statements of some learners of some courses of one tenant (voided ones left out), named as
-- (course, learner) pairs: the input of their learner_state rows (streams/learners.py). One read for a refresh
-- round's learners of every course it touches.
-- params: {"tenant": "t", "pairs": [["c", "mbox:mailto:a@example.com"]]}
SELECT course_id, actor_ifi, timestamp_us, stored_us, verb_id, object_id, module_id, result_success,
       result_completion, types
FROM learner_statements FINAL
WHERE tenant = %(tenant)s AND (course_id, actor_ifi) IN %(pairs)s AND voided = 0
