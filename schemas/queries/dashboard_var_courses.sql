-- Dashboard variable `course` (Course dashboard): the tenant's courses, value = course id, text = declared name.
-- params: {"tenant": "t"}
SELECT s.course_id AS course_id, if(n.course_name = '', s.course_id, n.course_name) AS course
FROM (
    SELECT DISTINCT course_id
    FROM analytics_slices
    WHERE tenant = %(tenant)s
) AS s
ANY LEFT JOIN (
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name
    FROM course_structure
    WHERE tenant = %(tenant)s
    GROUP BY course_id
) AS n ON s.course_id = n.n_course
ORDER BY course
