-- Wall-clock mode: slices last computed at a clock older than stale_before_us.
-- params: {"stale_before_us": 0}
SELECT tenant, course_id
FROM analytics_slices
GROUP BY tenant, course_id
HAVING argMax(watermark_us, version) < %(stale_before_us)s
