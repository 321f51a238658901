-- Write raw statement rows (rows passed as data; see streams/rows.py for the column order).
-- insert: [["t", "00000000-0000-4000-8000-000000000000", 1, 1, "mbox:mailto:a@b.c", "v", "o", "Activity", "", ["mbox:mailto:a@b.c"], ["mbox:mailto:a@b.c"], ["o"], "k", "", "", null, null, null, null, "", 0, "{}", 0]]
INSERT INTO statements (tenant, statement_id, stored_us, timestamp_us, actor_ifi, verb_id, object_id,
    object_type, registration, agents, related_agents, related_activities, client_key, course_id, module_id, result_success, result_completion,
    result_score_scaled, result_duration_s, voiding_target, voided, statement, version) VALUES
