-- `learner_course` kept per learner instead of one full copy per version (docs/metrics.md, "How the tables are
-- kept"): the worker that owns a course writes the rows of the learners that changed and of those whose status
-- changed when the clock moved, nothing else. What moves with the clock for every learner (`inactive_s`,
-- `watermark_us`) is computed by the view from the course's published clock (`analytics_slices`). The newest
-- version of a learner's row wins (read with FINAL); `present = 0` is a learner no longer in the course.
CREATE TABLE IF NOT EXISTS learner_course_rows
(
    tenant String,
    course_id String,
    actor_ifi String,
    first_seen DateTime,
    last_seen DateTime,
    first_seen_us Int64,
    last_seen_us Int64,
    cohort_week Date,
    statements UInt64,
    sessions UInt64,
    time_on_task_s Float64,
    furthest_module String,
    furthest_position UInt32,
    status String,
    completed UInt8,
    passed UInt8,
    certified UInt8,
    present UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, actor_ifi);

-- The current version of every course, as the per-version table held it.
INSERT INTO learner_course_rows
SELECT tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us, last_seen_us, cohort_week, statements,
       sessions, time_on_task_s, furthest_module, furthest_position, status, completed, passed, certified,
       toUInt8(1), version
FROM learner_course_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

DROP TABLE IF EXISTS learner_course;

CREATE VIEW IF NOT EXISTS learner_course AS
SELECT tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us, last_seen_us, cohort_week, statements,
       sessions, time_on_task_s, furthest_module, furthest_position, status, completed, passed, certified,
       intDiv(w_watermark - last_seen_us, 1000000) AS inactive_s, w_watermark AS watermark_us
FROM (
    SELECT tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us, last_seen_us, cohort_week,
           statements, sessions, time_on_task_s, furthest_module, furthest_position, status, completed, passed,
           certified
    FROM learner_course_rows FINAL
    WHERE present = 1
) AS l
ALL INNER JOIN (
    SELECT tenant AS w_tenant, course_id AS w_course, argMax(watermark_us, version) AS w_watermark
    FROM analytics_slices
    GROUP BY tenant, course_id
) AS w ON l.tenant = w.w_tenant AND l.course_id = w.w_course;

DROP TABLE IF EXISTS learner_course_data;
