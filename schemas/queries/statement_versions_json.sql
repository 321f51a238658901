-- The JSON of the versions stored under contested ids (found by stored time and id, as page reads do), with the
-- key that stored each. statement_json_by_month keeps every version (its key holds stored_us) even after `statements` has
-- merged the versions of an id into one row.
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"], "stored": [1]}
SELECT statement_id, stored_us, statement, statement_hash, client_key
FROM (
    SELECT DISTINCT statement_id, stored_us, statement, cityHash64(statement) AS statement_hash,
           concat(statement_id, ':', toString(stored_us)) AS version_key
    FROM statement_json_by_month
    WHERE tenant = %(tenant)s AND stored_us IN %(stored)s AND statement_id IN %(ids)s
) AS j
ANY LEFT JOIN (
    SELECT concat(statement_id, ':', toString(stored_us)) AS version_key, any(client_key) AS client_key
    FROM statements_by_stored_month
    WHERE tenant = %(tenant)s AND stored_us IN %(stored)s AND statement_id IN %(ids)s
    GROUP BY version_key
) AS k USING version_key
