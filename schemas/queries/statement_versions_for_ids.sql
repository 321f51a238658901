-- The ids among these (just written by the sink) under which more than one version is stored (another stored
-- time or another JSON hash), with their stored times: the sink's re-check after an insert.
-- The ids come as one comma-joined string split by the server: a literal list of ~2,000 ids cost 2-3x the
-- time to parse (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
SELECT statement_id, groupUniqArray(stored_us) AS stored
FROM statement_versions
WHERE tenant = %(tenant)s AND statement_id IN (SELECT arrayJoin(splitByChar(',', %(ids)s)))
GROUP BY statement_id
HAVING uniqExact(stored_us, statement_hash) > 1
