-- The JSON of a page's statements, found by the stored-time range the page spans and their ids.
-- params: {"tenant": "t", "from_us": 0, "to_us": 9000000000000000, "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT statement_id, statement, stored_us
FROM statements_by_stored
WHERE tenant = %(tenant)s AND stored_us >= %(from_us)s AND stored_us <= %(to_us)s AND statement_id IN %(ids)s
LIMIT 1 BY statement_id
