-- Dashboard panel "Last statement received per tenant" (Operator, table): when each selected tenant's latest
-- statement was stored, how long ago, and how many statements were stored in the time range.
-- Reads the one narrow stored_us column of statements_by_stored and compares integers per row: converting
-- every row to DateTime (as a first version did on `statements`) took 400 ms at 10M statements.
-- params: {"tenants": ["t"], "from_s": 1788220800, "to_s": 1798761600}
SELECT tenant, toDateTime(intDiv(max(stored_us), 1000000)) AS last_stored,
       toInt64(now()) - toInt64(intDiv(max(stored_us), 1000000)) AS seconds_ago,
       countIf(stored_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
               AND stored_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000) AS stored_in_range
FROM statements_by_stored
WHERE tenant IN %(tenants)s
GROUP BY tenant
ORDER BY last_stored DESC
