-- Erase the learner's statements from the event-time copy the dashboards read (same rule as erase_statements).
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE statements_by_time DELETE WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents)
