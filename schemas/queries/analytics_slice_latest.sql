-- The current version of some analytics slices of a tenant (a course never computed has no row).
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, max(version) AS latest_version
FROM analytics_slices
WHERE tenant = %(tenant)s AND course_id IN %(courses)s
GROUP BY course_id
