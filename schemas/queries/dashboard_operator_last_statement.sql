-- Dashboard panel "Last statement received per tenant" (Operator, table): when each selected tenant's latest
-- statement was stored, how long ago, and how many statements were stored in the time range.
-- The latest stored time comes from tenant_last_stored (a few rows per tenant), the count from the
-- primary-key range of statements_by_stored_month: neither scans all of a tenant's statements.
-- params: {"tenants": ["t"], "from_s": 1788220800, "to_s": 1798761600}
SELECT l.tenant AS tenant, toDateTime(intDiv(l.last_us, 1000000)) AS last_stored,
       toInt64(now()) - toInt64(intDiv(l.last_us, 1000000)) AS seconds_ago,
       r.stored_in_range AS stored_in_range
FROM (
    SELECT tenant, maxMerge(last_stored_us) AS last_us
    FROM tenant_last_stored
    WHERE tenant IN %(tenants)s
    GROUP BY tenant
) AS l
LEFT JOIN (
    SELECT tenant, count() AS stored_in_range
    FROM statements_by_stored_month
    WHERE tenant IN %(tenants)s AND stored_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
      AND stored_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000
    GROUP BY tenant
) AS r ON l.tenant = r.tenant
ORDER BY last_stored DESC
