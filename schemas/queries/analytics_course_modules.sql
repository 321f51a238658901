-- The declared modules of one course (its latest declaration), (module, position); none: the order is inferred
-- from the learners' first visits.
-- params: {"tenant": "t", "course_id": "c"}
SELECT module_id, toUInt32(position)
FROM course_structure
WHERE tenant = %(tenant)s AND course_id = %(course_id)s
  AND (course_id, declared_us) IN (SELECT course_id, max(declared_us) FROM course_structure
                                   WHERE tenant = %(tenant)s AND course_id = %(course_id)s GROUP BY course_id)
ORDER BY position, module_id
