-- A new state of a removal of a losing statement version (rows passed as data; field order of
-- streams/removals.py Removal).
-- insert: [["t", "00000000-0000-4000-8000-000000000000", 2, 7, 2, "mbox:mailto:b@b.c", "c", 1, 1, "mbox:mailto:a@b.c", ["mbox:mailto:b@b.c", "mbox:mailto:a@b.c"], "pending", 0, 0, 0, "", 3, 3]]
INSERT INTO statement_removals (tenant, statement_id, stored_us, statement_hash, timestamp_us, actor_ifi, course_id,
    winner_stored_us, winner_timestamp_us, winner_actor_ifi, related_agents, state, attempts, issued_us, next_try_us,
    error, requested_us, updated_us) VALUES
