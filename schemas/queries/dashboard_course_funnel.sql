-- Dashboard panel "Funnel by module" (Course, bar chart): learners who reached each module, in module order,
-- and the dropped learners whose furthest module it is (where learners drop off), from course_funnel.
-- params: {"tenant": "t", "course": "c"}
SELECT concat(toString(f.position), '. ', if(m.module_name = '', f.module_id, m.module_name)) AS module,
       f.learners_reached AS reached, f.dropped_here AS dropped_here, f.position AS position
FROM (
    SELECT position, module_id, learners_reached, dropped_here
    FROM course_funnel
    WHERE tenant = %(tenant)s AND course_id = %(course)s
) AS f
ANY LEFT JOIN (
    SELECT module_id AS m_module, argMax(name, declared_us) AS module_name
    FROM course_structure
    WHERE tenant = %(tenant)s AND course_id = %(course)s
    GROUP BY module_id
) AS m ON f.module_id = m.m_module
ORDER BY position
