-- The stored statement JSON of those of these ids of a tenant that had a version inserted since `since` (seconds):
-- the sink's "first stored wins" check of statements the LRS checked (what was stored before its check, it saw;
-- streams/conflicts.py). Reads the recent versions, so its cost follows the last hours, not the tenant's history.
-- The JSON is the earliest stored version of each id (ties: the smaller JSON), as in stored_statements_for_ids.
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001", "since": 1764780000}
-- One thread (max_threads = 1): a lookup of at most a chunk of keys; a second thread only cost CPU (measured on
-- 18.16: 20-30 % of the query's CPU, the same wall time).
SELECT statement_id, statement
FROM statements
WHERE tenant = %(tenant)s AND statement_id IN (
    SELECT statement_id FROM statement_versions_recent
    WHERE tenant = %(tenant)s AND inserted >= toDateTime(%(since)s)
      AND statement_id IN (SELECT arrayJoin(splitByChar(',', ids)) FROM _ids))
ORDER BY statement_id, stored_us, statement
LIMIT 1 BY statement_id
SETTINGS max_threads = 1
