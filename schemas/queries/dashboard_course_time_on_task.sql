-- Dashboard panel "Time on task per learner" (Course, bar chart): learners of the course by their total
-- time on task (learner_course.time_on_task_s), in 15-minute bins; the last bin holds 4 hours and more.
-- params: {"tenant": "t", "course": "c"}
SELECT if(bin = 16, '4h+', concat(toString(bin * 15), '-', toString(bin * 15 + 15), ' min')) AS time_on_task,
       count() AS learners, bin
FROM (
    SELECT least(intDiv(toUInt64(time_on_task_s), 900), 16) AS bin
    FROM learner_course_rows FINAL
    WHERE tenant = %(tenant)s AND course_id = %(course)s AND present = 1
)
GROUP BY bin
ORDER BY bin
