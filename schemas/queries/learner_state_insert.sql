-- Recomputed learner_state rows (rows passed as data; streams/learners.py builds them).
-- insert: [["t", "c", "mbox:mailto:a@example.com", 1, 1000000, 2000000, 2000000, 0, 2, 1, 1000000, ["c"], 0, 0, ["m"], [1000000], [0], [0], [2], [1], [1000000], [0], [2], [1], [1000000], 1]]
INSERT INTO learner_state (tenant, course_id, actor_ifi, present, first_seen_us, last_seen_us, clock_us,
    cohort_week_s, statements, sessions, tot_us, done_objects, passed, certified, visit_modules, visit_first_us, weeks_s,
    day_keys_s, day_statements, day_starts, day_gap_us, hour_keys_s, hour_statements, hour_starts, hour_gap_us, version)
VALUES
