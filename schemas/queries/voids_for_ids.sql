-- Which of these statements of a tenant have been voided (the voiding may have arrived first).
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT DISTINCT target_id FROM statement_voids WHERE tenant = %(tenant)s AND target_id IN %(ids)s
