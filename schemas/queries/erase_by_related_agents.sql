-- Erase the rows naming the learner (as actor, object, team member, instructor, authority or inside a
-- sub-statement) from one table with a related_agents column. The eraser runs it for every such table that
-- erasure_tables finds, putting that table's name in place of `statements` (streams/erasure.py).
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
ALTER TABLE statements DELETE WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents)
