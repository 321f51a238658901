-- Which of these statements of a tenant have been voided (the voiding may have arrived first).
-- The ids come as one comma-joined string split by the server: a literal list of ~2,000 ids cost 2-3x the
-- time to parse (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
SELECT DISTINCT target_id FROM statement_voids WHERE tenant = %(tenant)s AND target_id IN (SELECT arrayJoin(splitByChar(',', %(ids)s)))
