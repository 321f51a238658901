-- The declared modules of some courses of a tenant (each course's latest declaration), (course, module,
-- position); a course without one: the order is inferred from the learners' first visits.
-- params: {"tenant": "t", "courses": ["c"]}
SELECT course_id, module_id, toUInt32(position)
FROM course_structure
WHERE tenant = %(tenant)s AND course_id IN %(courses)s
  AND (course_id, declared_us) IN (SELECT course_id, max(declared_us) FROM course_structure
                                   WHERE tenant = %(tenant)s AND course_id IN %(courses)s GROUP BY course_id)
ORDER BY course_id, position, module_id
