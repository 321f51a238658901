-- The current (latest declared) structure of a tenant's courses, in module order.
-- params: {"tenant": "t"}
SELECT course_id, course_name, module_id, position, name, declared_us
FROM course_structure
WHERE tenant = %(tenant)s
  AND (course_id, declared_us) IN (SELECT course_id, max(declared_us) FROM course_structure
                                   WHERE tenant = %(tenant)s GROUP BY course_id)
ORDER BY course_id, position
