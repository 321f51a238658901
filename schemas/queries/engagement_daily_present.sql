-- The days each course of a tenant has in engagement_daily_rows (as UTC seconds, the worker's keys): the rows a
-- whole rewrite of a course must mark gone when the course in memory has no statement on that day any more.
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, toUInt32(day) * 86400
FROM engagement_daily_rows FINAL
WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
