-- statement_versions_for_ids over the whole history: for a batch stored longer ago than the recent versions are kept
-- (a worker that was down for a day, or a statement the LRS could not check), whose crashed earlier attempt may
-- have raced another sink. The raw table alone does not do: a merge keeps one row per id (the last inserted), so two
-- versions inserted by a race a moment ago may already be one, and the race would go unseen (the loser kept). The
-- recent versions keep every version inserted in the last hours, which is when a race the re-check must settle
-- happened; the raw table adds the older history.
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
-- One thread (max_threads = 1): a lookup of at most a chunk of keys; a second thread only cost CPU (measured on
-- 18.16: 20-30 % of the query's CPU, the same wall time).
SELECT statement_id, groupUniqArray(stored_us) AS stored
FROM (
    SELECT statement_id, stored_us, cityHash64(statement) AS statement_hash
    FROM statements
    WHERE tenant = %(tenant)s AND statement_id IN (
        SELECT id FROM (SELECT arrayJoin(splitByChar(',', ids)) AS id FROM _ids)
        WHERE cityHash64(%(tenant)s, id) IN (
            SELECT key FROM statement_id_keys
            WHERE key IN (SELECT cityHash64(%(tenant)s, arrayJoin(splitByChar(',', ids))) FROM _ids)))
    UNION ALL
    SELECT statement_id, stored_us, statement_hash
    FROM statement_versions_recent
    WHERE tenant = %(tenant)s AND statement_id IN (SELECT arrayJoin(splitByChar(',', ids)) FROM _ids)
)
GROUP BY statement_id
HAVING uniqExact(stored_us, statement_hash) > 1
SETTINGS max_threads = 1
