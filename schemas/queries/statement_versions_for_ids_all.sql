-- statement_versions_for_ids over the whole history (the raw table): for a batch stored longer ago than the recent
-- versions are kept (a worker that was down for a day), whose crashed earlier attempt may have raced another sink.
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
SELECT statement_id, groupUniqArray(stored_us) AS stored
FROM statements
WHERE tenant = %(tenant)s AND statement_id IN (
    SELECT id FROM (SELECT arrayJoin(splitByChar(',', %(ids)s)) AS id)
    WHERE cityHash64(%(tenant)s, id) IN (
        SELECT key FROM statement_id_keys
        WHERE key IN (SELECT cityHash64(%(tenant)s, arrayJoin(splitByChar(',', %(ids)s))))))
GROUP BY statement_id
HAVING uniqExact(stored_us, cityHash64(statement)) > 1
