-- The JSON of a page's statements, found by their stored times and ids in statement_json_by_month: `stored_us IN` lets the
-- primary key pick just the 256-row granules holding the page's rows (the range alone would read every id in it).
-- params: {"tenant": "t", "from_us": 0, "to_us": 9000000000000000, "stored": [1], "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT statement_id, statement, stored_us
FROM statement_json_by_month
WHERE tenant = %(tenant)s AND stored_us >= %(from_us)s AND stored_us <= %(to_us)s AND stored_us IN %(stored)s
  AND statement_id IN %(ids)s
LIMIT 1 BY statement_id
