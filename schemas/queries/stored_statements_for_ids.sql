-- The stored statement JSON of these ids of a tenant (the sink's "first stored wins" check): the earliest stored
-- version of each (ties: the smaller JSON), the one that wins when two sinks inserted one id at once.
-- Most ids are new, so the id keys (statement_id_keys: maybe stored) answer first. A voided copy has the same JSON.
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
-- One thread (max_threads = 1): a lookup of at most a chunk of keys; a second thread only cost CPU (measured on
-- 18.16: 20-30 % of the query's CPU, the same wall time).
SELECT statement_id, statement
FROM statements
WHERE tenant = %(tenant)s AND statement_id IN (
    SELECT id FROM (SELECT arrayJoin(splitByChar(',', ids)) AS id FROM _ids)
    WHERE cityHash64(%(tenant)s, id) IN (
        SELECT key FROM statement_id_keys
        WHERE key IN (SELECT cityHash64(%(tenant)s, arrayJoin(splitByChar(',', ids))) FROM _ids)))
ORDER BY statement_id, stored_us, statement
LIMIT 1 BY statement_id
SETTINGS max_threads = 1
