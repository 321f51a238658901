-- Event-time mode: slices whose statuses were computed at an older clock than their tenant's current one
-- (the watermark moves for the whole tenant, so a slice can lag although none of its statements changed).
-- params: {"lateness_us": 3600000000}
SELECT s.tenant, s.course_id
FROM (
    SELECT tenant, course_id, argMax(watermark_us, version) AS slice_watermark_us
    FROM analytics_slices
    GROUP BY tenant, course_id
) AS s
ANY INNER JOIN (
    SELECT tenant AS w_tenant, max(timestamp_us) - %(lateness_us)s AS tenant_watermark_us
    FROM statements FINAL
    WHERE voided = 0 AND voiding_target = '' AND course_id != ''
    GROUP BY tenant
) AS w ON s.tenant = w.w_tenant
WHERE s.slice_watermark_us != w.tenant_watermark_us
