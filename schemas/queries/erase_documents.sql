-- Erase the learner's State and Agent Profile documents (every version).
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE documents DELETE WHERE tenant = %(tenant)s AND agent IN %(ifis)s
