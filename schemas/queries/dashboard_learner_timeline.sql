-- Dashboard panel "Timeline" (Learner, table): one learner's latest statements in the time range across all
-- courses (at most 500), with verb, object and result.
-- params: {"tenant": "t", "learner": "mbox:mailto:a@example.com", "from_s": 1788220800, "to_s": 1798761600}
SELECT toDateTime(intDiv(timestamp_us, 1000000)) AS time, course_id AS course,
       arrayElement(splitByChar('/', verb_id), -1) AS verb, object_id AS object, result_success AS success,
       result_completion AS completion, result_score_scaled AS score,
       toUInt8(statement_id IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)) AS voided
FROM statements_by_learner
WHERE tenant = %(tenant)s AND actor_ifi = %(learner)s AND timestamp_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
      AND timestamp_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000 AND voiding_target = ''
ORDER BY timestamp_us DESC, statement_id DESC
LIMIT 1 BY statement_id
LIMIT 500
