-- Every present learner row of one course, all columns (streams/learners.py STATE_COLUMNS): what the worker that
-- owns the course loads into memory (streams/course_state.py). One key range.
-- params: {"tenant": "t", "course_id": "c"}
SELECT tenant, course_id, actor_ifi, present, first_seen_us, last_seen_us, clock_us, cohort_week_s, statements,
       sessions, tot_us, done_objects, passed, certified, visit_modules, visit_first_us, weeks_s, day_keys_s,
       day_statements, day_starts, day_gap_us, hour_keys_s, hour_statements, hour_starts, hour_gap_us, version
FROM learner_state FINAL
WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND present = 1
