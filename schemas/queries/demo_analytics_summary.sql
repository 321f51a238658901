-- The demo's per-course analytics table, from the public course_summary view.
-- params: {"tenant": "t"}
SELECT course_id, learners_started, active_learners, completion_rate, at_risk, dropped, top_dropoff_module,
       top_dropoff_position, top_dropoff_learners, watermark_us
FROM course_summary
WHERE tenant = %(tenant)s
ORDER BY learners_started DESC, course_id
