-- Event-time mode: a tenant's slices whose current version was computed at another clock than clock_us (the
-- tenant's clock just read by a recompute); they are re-marked so the whole tenant follows its watermark.
-- params: {"tenant": "t", "clock_us": 0}
SELECT course_id
FROM analytics_slices
WHERE tenant = %(tenant)s
GROUP BY course_id
HAVING argMax(watermark_us, version) != %(clock_us)s
