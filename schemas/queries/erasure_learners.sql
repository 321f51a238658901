-- The (course, learner) rows an erasure changes: every learner of a statement naming one of the identifiers
-- (read before the statements are deleted; their learner_state rows are recomputed afterwards).
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
SELECT DISTINCT course_id, actor_ifi
FROM learner_statements
WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents)
