-- Dashboard panel "Analytics freshness per tenant" (Operator, table): per selected tenant, its courses, when
-- their analytics were last recomputed and the event-time clock they were computed at (docs/metrics.md).
-- params: {"tenants": ["t"]}
SELECT tenant, uniqExact(course_id) AS courses, toDateTime(intDiv(max(computed_us), 1000000)) AS last_recompute,
       toDateTime(intDiv(min(watermark_us), 1000000)) AS oldest_clock,
       toDateTime(intDiv(max(watermark_us), 1000000)) AS newest_clock
FROM analytics_slices
WHERE tenant IN %(tenants)s
GROUP BY tenant
ORDER BY tenant
