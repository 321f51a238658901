-- Per course of a tenant: non-voided course statements in the raw table (the freshness check of the demo).
-- params: {"tenant": "t"}
SELECT course_id, count() AS statements
FROM statements FINAL
WHERE tenant = %(tenant)s AND voided = 0 AND voiding_target = '' AND course_id != ''
GROUP BY course_id
