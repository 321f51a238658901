-- Per-course summary of a tenant's stored, non-voided statements (the demo's closing table).
-- params: {"tenant": "t"}
SELECT course_id,
       count() AS statements,
       uniqExact(actor_ifi) AS learners
FROM statements FINAL
WHERE tenant = %(tenant)s AND voided = 0
GROUP BY course_id
ORDER BY statements DESC
