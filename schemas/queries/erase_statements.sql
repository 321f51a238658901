-- Erase every statement that names the learner (as actor, object, team, instructor, authority, or in a
-- sub-statement). A mutation: asynchronous; erasure_pending_mutations tells when it is done.
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE statements DELETE WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents)
