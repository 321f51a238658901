-- Which of these ids a tenant has stored: the cheap first step of a POST's conflict check (most ids are new).
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT DISTINCT statement_id
FROM statement_ids
WHERE tenant = %(tenant)s AND statement_id IN %(ids)s
