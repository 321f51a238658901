-- Which of these ids a tenant has stored: the cheap first step of a POST's conflict check (most ids are new).
-- Reads one 64-bit key per id (statement_id_keys, migration 040); a key shared with another id only means "maybe":
-- the caller then reads the statements of the ids found (statements_by_ids), which decide.
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
-- One thread (max_threads = 1): a lookup of at most a chunk of keys; a second thread only cost CPU (measured on
-- 18.16: 20-30 % of the query's CPU, the same wall time).
SELECT id
FROM (SELECT arrayJoin(splitByChar(',', ids)) AS id FROM _ids)
WHERE cityHash64(%(tenant)s, id) IN (
    SELECT key FROM statement_id_keys
    WHERE key IN (SELECT cityHash64(%(tenant)s, arrayJoin(splitByChar(',', ids))) FROM _ids))
SETTINGS use_uncompressed_cache = 1, max_threads = 1
