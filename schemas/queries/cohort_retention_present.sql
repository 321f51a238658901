-- The (cohort week as UTC seconds, week number) rows each course of a tenant has in cohort_retention_rows: the rows a
-- whole rewrite of a course must mark gone when the course in memory no longer has them.
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, toUInt32(cohort_week) * 86400, week_number
FROM cohort_retention_rows FINAL
WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
