-- Rewrite stored statements as voided: a newer version of the same key replaces the original on merge.
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"]}
INSERT INTO statements (tenant, statement_id, stored_us, timestamp_us, actor_ifi, verb_id, object_id,
    object_type, registration, agents, related_agents, related_activities, client_key, course_id, module_id, result_success, result_completion,
    result_score_scaled, result_duration_s, voiding_target, voided, statement, version)
SELECT tenant, statement_id, stored_us, timestamp_us, actor_ifi, verb_id, object_id,
    object_type, registration, agents, related_agents, related_activities, client_key, course_id, module_id, result_success, result_completion,
    result_score_scaled, result_duration_s, voiding_target, 1, statement, 1
FROM statements FINAL
WHERE tenant = %(tenant)s AND statement_id IN %(ids)s AND voided = 0
