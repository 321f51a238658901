-- The hours each course of a tenant has in engagement_hourly_rows (as UTC seconds, the worker's keys): the rows a
-- whole rewrite of a course must mark gone when the course in memory has no statement in that hour any more.
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, toUInt32(hour)
FROM engagement_hourly_rows FINAL
WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
