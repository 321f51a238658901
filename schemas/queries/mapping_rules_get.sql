-- A tenant's course mapping rules (no row: the defaults apply).
-- params: {"tenant": "t"}
SELECT course_types, module_types
FROM mapping_rules FINAL
WHERE tenant = %(tenant)s
