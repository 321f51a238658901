-- Which of these ids a tenant has stored: the cheap first step of a POST's conflict check (most ids are new).
-- Reads one 64-bit key per id (statement_id_keys, migration 040); a key shared with another id only means "maybe":
-- the caller then reads the statements of the ids found (statements_by_ids), which decide.
-- The ids come as one comma-joined string split by the server: a literal list of ~2,000 ids cost 2-3x the
-- time to parse (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
SELECT id
FROM (SELECT arrayJoin(splitByChar(',', %(ids)s)) AS id)
WHERE cityHash64(%(tenant)s, id) IN (
    SELECT key FROM statement_id_keys
    WHERE key IN (SELECT cityHash64(%(tenant)s, arrayJoin(splitByChar(',', %(ids)s)))))
SETTINGS use_uncompressed_cache = 1
