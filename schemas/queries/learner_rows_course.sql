-- The counting statements of every learner of one course (backfill: `lrs analytics refresh`, course structures).
-- params: {"tenant": "t", "course_id": "c"}
SELECT actor_ifi, timestamp_us, stored_us, verb_id, object_id, module_id, result_success, result_completion, types
FROM learner_statements FINAL
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND voided = 0
