-- Erase the learner's own rows (every version) from one table with an actor_ifi column but no related_agents
-- (per-learner analytics). Run for every such table, its name in place of `learner_course_rows`.
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE learner_course_rows DELETE WHERE tenant = %(tenant)s AND actor_ifi IN %(ifis)s
