-- The counting statements of some learners of one course (voided ones left out), in learner_statements' key
-- order: the input of their learner_state rows (streams/learners.py).
-- params: {"tenant": "t", "course_id": "c", "learners": ["mbox:mailto:a@example.com"]}
SELECT actor_ifi, timestamp_us, stored_us, verb_id, object_id, module_id, result_success, result_completion, types
FROM learner_statements FINAL
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND actor_ifi IN %(learners)s AND voided = 0
