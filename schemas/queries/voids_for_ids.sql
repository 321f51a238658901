-- Which of these statements of a tenant have been voided (the voiding may have arrived first).
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
-- One thread (max_threads = 1): a lookup of at most a chunk of keys; a second thread only cost CPU (measured on
-- 18.16: 20-30 % of the query's CPU, the same wall time).
SELECT DISTINCT target_id FROM statement_voids WHERE tenant = %(tenant)s AND target_id IN (SELECT arrayJoin(splitByChar(',', ids)) FROM _ids)
SETTINGS max_threads = 1
