-- The removals already recorded for these ids of a tenant, in any state (a sink records each loser once).
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT DISTINCT statement_id, stored_us, statement_hash
FROM statement_removals
WHERE tenant = %(tenant)s AND statement_id IN %(ids)s
