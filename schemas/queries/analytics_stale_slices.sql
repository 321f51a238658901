-- Event-time mode, safety net: slices whose statuses were computed at another clock than the one last recorded
-- for their tenant (analytics_clock); two small tables, no statement is read.
-- params: {}
SELECT s.tenant, s.course_id
FROM (
    SELECT tenant, course_id, argMax(watermark_us, version) AS slice_watermark_us
    FROM analytics_slices
    GROUP BY tenant, course_id
) AS s
ANY INNER JOIN (
    SELECT tenant AS w_tenant, argMax(clock_us, computed_us) AS tenant_watermark_us
    FROM analytics_clock
    GROUP BY tenant
) AS w ON s.tenant = w.w_tenant
WHERE s.slice_watermark_us != w.tenant_watermark_us
