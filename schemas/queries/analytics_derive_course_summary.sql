-- `course_summary` derived from the learner_course rows this derivation wrote (same version), equal row for row to
-- analytics_course_summary over `statements` (the batch query): per course, learners started, active in the last active_us,
-- completed/passed/certified, at risk, dropped, rates, and the module where most dropped learners stopped.
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, course_id, learners_started, active_learners, completed, passed, certified, at_risk,
       dropped, completed / learners_started AS completion_rate, passed / learners_started AS pass_rate,
       if(completed = 0, 0, certified / completed) AS certificate_conversion,
       top_dropoff_module, top_dropoff_position, top_dropoff_learners, toInt64(%(clock_us)s) AS watermark_us
FROM (
    SELECT course_id, sum(n) AS learners_started, sum(n_active) AS active_learners, sum(n_completed) AS completed,
           sum(n_passed) AS passed, sum(n_certified) AS certified, sum(n_at_risk) AS at_risk,
           sum(n_dropped) AS dropped,
           -- most dropped learners; ties go to the earlier module
           argMaxIf(furthest_module, (n_dropped, -toInt64(furthest_position)),
                    n_dropped > 0 AND furthest_position > 0) AS top_dropoff_module,
           toUInt32(argMaxIf(furthest_position, (n_dropped, -toInt64(furthest_position)),
                             n_dropped > 0 AND furthest_position > 0)) AS top_dropoff_position,
           toUInt64(maxIf(n_dropped, furthest_position > 0)) AS top_dropoff_learners
    FROM (
        SELECT course_id, furthest_module, furthest_position, count() AS n,
               countIf(last_seen_us >= toInt64(%(clock_us)s) - %(active_us)s) AS n_active,
               sum(completed) AS n_completed, sum(passed) AS n_passed, sum(certified) AS n_certified,
               countIf(status = 'at_risk') AS n_at_risk, countIf(status = 'dropped') AS n_dropped
        FROM (
        SELECT course_id, actor_ifi, last_seen_us, furthest_module, furthest_position, completed, passed, certified,
               status
        -- the learner_course rows this derivation has just written (same version): one narrow read
        FROM learner_course_data
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND version = %(version)s
        )
        GROUP BY course_id, furthest_module, furthest_position
    )
    GROUP BY course_id
)
