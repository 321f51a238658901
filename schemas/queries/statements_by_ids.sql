-- Stored statements of a tenant among these ids (for conflict and voiding checks before publishing).
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT statement_id, statement, voided, voiding_target
FROM statements FINAL
WHERE tenant = %(tenant)s AND statement_id IN %(ids)s
