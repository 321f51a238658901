-- The current version of one analytics slice (0 if never computed) and the clock it was computed at.
-- params: {"tenant": "t", "course_id": "c"}
SELECT max(version) AS latest_version, argMax(watermark_us, version) AS latest_watermark_us
FROM analytics_slices
WHERE tenant = %(tenant)s AND course_id = %(course_id)s
