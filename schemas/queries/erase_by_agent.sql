-- Erase the learner's documents (State and Agent Profile, every version) from one table with an agent column.
-- Run for every such table, its name in place of `documents`.
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE documents DELETE WHERE tenant = %(tenant)s AND agent IN %(ifis)s
