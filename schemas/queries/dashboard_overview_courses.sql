-- Dashboard panel "Courses ranked by completion rate" (Brand overview, table): one row per course from
-- course_summary with its declared name, best completion rate first.
-- params: {"tenant": "t"}
SELECT if(n.course_name = '', s.course_id, n.course_name) AS course, s.learners_started AS started,
       s.active_learners AS active, s.completion_rate AS completion_rate, s.pass_rate AS pass_rate,
       s.certificate_conversion AS certificate_conversion, s.at_risk AS at_risk, s.dropped AS dropped,
       s.course_id AS course_id
FROM (
    SELECT course_id, learners_started, active_learners, completion_rate, pass_rate, certificate_conversion,
           at_risk, dropped
    FROM course_summary
    WHERE tenant = %(tenant)s
) AS s
ANY LEFT JOIN (
    SELECT course_id AS n_course, argMax(course_name, declared_us) AS course_name
    FROM course_structure
    WHERE tenant = %(tenant)s
    GROUP BY course_id
) AS n ON s.course_id = n.n_course
ORDER BY completion_rate DESC, started DESC, course
