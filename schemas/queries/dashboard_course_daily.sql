-- Dashboard panel "Daily engagement" (Course, time series): active learners, sessions started and hours on
-- task per UTC day, from engagement_daily.
-- params: {"tenant": "t", "course": "c", "from_date": "2026-09-01", "to_date": "2026-12-31"}
SELECT toDateTime(day) AS time, active_learners, sessions, time_on_task_s / 3600 AS hours_on_task
FROM engagement_daily
WHERE tenant = %(tenant)s AND course_id = %(course)s
  AND day >= toDate(%(from_date)s) AND day <= toDate(%(to_date)s)
ORDER BY time
