-- Erase the learner's per-course analytics rows from every version (aggregate tables are recomputed).
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE learner_course_data DELETE WHERE tenant = %(tenant)s AND actor_ifi IN %(ifis)s
