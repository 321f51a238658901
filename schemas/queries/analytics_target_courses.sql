-- Courses of voided targets: a voiding statement has no course itself, but its target's course must be recomputed.
-- params: {"tenant": "t", "ids": ["00000000-0000-4000-8000-000000000000"]}
SELECT DISTINCT course_id
FROM statements
WHERE tenant = %(tenant)s AND statement_id IN %(ids)s AND course_id != ''
