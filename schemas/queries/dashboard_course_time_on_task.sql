-- Dashboard panel "Time on task per learner" (Course, bar chart): learners of the course by their total
-- time on task (learner_course.time_on_task_s), in 15-minute bins; the last bin holds 4 hours and more.
-- From course_time_on_task (written with each version of the course): at most 17 rows.
-- params: {"tenant": "t", "course": "c"}
SELECT if(bin = 16, '4h+', concat(toString(bin * 15), '-', toString(bin * 15 + 15), ' min')) AS time_on_task,
       learners, bin
FROM course_time_on_task
WHERE tenant = %(tenant)s AND course_id = %(course)s
ORDER BY bin
