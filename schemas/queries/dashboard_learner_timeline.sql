-- Dashboard panel "Timeline" (Learner, table): one learner's latest statements in the time range across all
-- courses (at most 500), with verb, object and result.
-- params: {"tenant": "t", "learner": "mbox:mailto:a@example.com", "from_s": 1788220800, "to_s": 1798761600}
SELECT at AS time, course_id AS course, verb, object_id AS object, result_success AS success,
       result_completion AS completion, result_score_scaled AS score, voided
FROM (
    SELECT toDateTime(intDiv(timestamp_us, 1000000)) AS at, course_id,
           arrayElement(splitByChar('/', verb_id), -1) AS verb, object_id, result_success, result_completion,
           result_score_scaled, voided, timestamp_us
    FROM statements FINAL
    WHERE tenant = %(tenant)s AND actor_ifi = %(learner)s AND voiding_target = ''
)
WHERE at >= toDateTime(%(from_s)s) AND at <= toDateTime(%(to_s)s)
ORDER BY timestamp_us DESC
LIMIT 500
