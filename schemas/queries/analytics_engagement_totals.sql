-- Per course of a tenant: statements counted in engagement_daily, and the clock of the slice's current version.
-- params: {"tenant": "t"}
SELECT e.course_id, e.statements, s.watermark_us
FROM (
    SELECT course_id, sum(statements) AS statements FROM engagement_daily WHERE tenant = %(tenant)s GROUP BY course_id
) AS e
ANY LEFT JOIN (
    SELECT course_id AS s_course, argMax(watermark_us, version) AS watermark_us
    FROM analytics_slices WHERE tenant = %(tenant)s GROUP BY course_id
) AS s ON e.course_id = s.s_course
