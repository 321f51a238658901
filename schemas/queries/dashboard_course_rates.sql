-- Dashboard panel "Completion, pass and certificate conversion" (Course, bar gauge, percent), from course_summary.
-- params: {"tenant": "t", "course": "c"}
SELECT completion_rate, pass_rate, certificate_conversion
FROM course_summary
WHERE tenant = %(tenant)s AND course_id = %(course)s
