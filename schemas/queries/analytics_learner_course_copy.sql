-- A course derived again: the learner_course rows of the learners that did not change, copied from the previous
-- version with what depends on the clock computed at the new one (status, inactive_s, watermark_us: the same
-- rules as analytics_learner_course). The changed learners' rows are written from the worker's memory.
-- params: {"tenant": "t", "course_id": "c", "version": 2, "previous": 1, "clock_us": 1000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "changed": [""]}
INSERT INTO learner_course_data (tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us, last_seen_us,
    cohort_week, statements, sessions, time_on_task_s, furthest_module, furthest_position, status, completed, passed,
    certified, inactive_s, watermark_us, version)
SELECT tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us, last_seen_us, cohort_week, statements,
       sessions, time_on_task_s, furthest_module, furthest_position,
       multiIf(completed = 1, 'completed', toInt64(%(clock_us)s) - last_seen_us >= %(dropped_us)s, 'dropped',
               toInt64(%(clock_us)s) - last_seen_us >= %(at_risk_us)s, 'at_risk', 'started'),
       completed, passed, certified, intDiv(toInt64(%(clock_us)s) - last_seen_us, 1000000),
       toInt64(%(clock_us)s), toUInt64(%(version)s)
FROM learner_course_data
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND version = %(previous)s AND actor_ifi NOT IN %(changed)s
