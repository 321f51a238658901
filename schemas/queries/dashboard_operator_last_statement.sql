-- Dashboard panel "Last statement received per tenant" (Operator, table): when each selected tenant's latest
-- statement was stored, how long ago, and how many statements were stored in the time range.
-- params: {"tenants": ["t"], "from_s": 1788220800, "to_s": 1798761600}
SELECT tenant, toDateTime(intDiv(max(stored_us), 1000000)) AS last_stored,
       toInt64(now()) - toInt64(intDiv(max(stored_us), 1000000)) AS seconds_ago,
       countIf(toDateTime(intDiv(stored_us, 1000000)) >= toDateTime(%(from_s)s)
               AND toDateTime(intDiv(stored_us, 1000000)) <= toDateTime(%(to_s)s)) AS stored_in_range
FROM statements
WHERE tenant IN %(tenants)s
GROUP BY tenant
ORDER BY last_stored DESC
