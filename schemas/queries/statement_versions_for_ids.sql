-- The ids among these (just written by the sink) under which more than one version (another stored time or another
-- JSON hash) was inserted since `since` (seconds), with their stored times: the sink's re-check after an insert. A
-- race it settles is between inserts after the statements were stored, so the recent versions suffice
-- (streams/conflicts.py); statement_versions_for_ids_all reads the whole history for older batches.
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001", "since": 1764780000}
-- One thread (max_threads = 1): a lookup of at most a chunk of keys; a second thread only cost CPU (measured on
-- 18.16: 20-30 % of the query's CPU, the same wall time).
SELECT statement_id, groupUniqArray(stored_us) AS stored
FROM statement_versions_recent
WHERE tenant = %(tenant)s AND inserted >= toDateTime(%(since)s)
  AND statement_id IN (SELECT arrayJoin(splitByChar(',', ids)) FROM _ids)
GROUP BY statement_id
HAVING uniqExact(stored_us, statement_hash) > 1
SETTINGS max_threads = 1
