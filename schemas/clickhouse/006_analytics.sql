-- Analytics tables (docs/metrics.md). Each (tenant, course_id) is a "slice", recomputed as a whole from the
-- raw `statements` table by the refresh agent (streams/refresh.py) with the batch queries
-- schemas/queries/analytics_*.sql. A recompute writes every *_data table under a new `version`, then records
-- that version in `analytics_slices`; the public views show only the latest recorded version of each slice,
-- so a reader never sees half a recompute. Rows of older versions are garbage (cleaned up periodically).

-- The current version of each slice (max version wins) and the clock its statuses were computed at.
CREATE TABLE IF NOT EXISTS analytics_slices
(
    tenant String,
    course_id String,
    version UInt64,
    watermark_us Int64,
    computed_us Int64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id);

CREATE TABLE IF NOT EXISTS engagement_daily_data
(
    tenant String,
    course_id String,
    day Date,
    active_learners UInt64,
    statements UInt64,
    sessions UInt64,
    time_on_task_s Float64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version, day);

CREATE TABLE IF NOT EXISTS engagement_hourly_data
(
    tenant String,
    course_id String,
    hour DateTime,
    active_learners UInt64,
    statements UInt64,
    sessions UInt64,
    time_on_task_s Float64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version, hour);

CREATE TABLE IF NOT EXISTS learner_course_data
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
    inactive_s Int64,
    watermark_us Int64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version, actor_ifi);

CREATE TABLE IF NOT EXISTS course_funnel_data
(
    tenant String,
    course_id String,
    position UInt32,
    module_id String,
    declared UInt8,
    learners_reached UInt64,
    dropped_here UInt64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version, position);

CREATE TABLE IF NOT EXISTS course_summary_data
(
    tenant String,
    course_id String,
    learners_started UInt64,
    active_learners UInt64,
    completed UInt64,
    passed UInt64,
    certified UInt64,
    at_risk UInt64,
    dropped UInt64,
    completion_rate Float64,
    pass_rate Float64,
    certificate_conversion Float64,
    top_dropoff_module String,
    top_dropoff_position UInt32,
    top_dropoff_learners UInt64,
    watermark_us Int64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version);

CREATE TABLE IF NOT EXISTS cohort_retention_data
(
    tenant String,
    course_id String,
    cohort_week Date,
    week_number UInt32,
    cohort_size UInt64,
    active_learners UInt64,
    retention Float64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version, cohort_week, week_number);

-- The public, documented names: the latest complete version of every slice.
CREATE VIEW IF NOT EXISTS engagement_daily AS
SELECT tenant, course_id, day, active_learners, statements, sessions, time_on_task_s
FROM engagement_daily_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

CREATE VIEW IF NOT EXISTS engagement_hourly AS
SELECT tenant, course_id, hour, active_learners, statements, sessions, time_on_task_s
FROM engagement_hourly_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

CREATE VIEW IF NOT EXISTS learner_course AS
SELECT tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us, last_seen_us, cohort_week, statements,
       sessions, time_on_task_s, furthest_module, furthest_position, status, completed, passed, certified,
       inactive_s, watermark_us
FROM learner_course_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

CREATE VIEW IF NOT EXISTS course_funnel AS
SELECT tenant, course_id, position, module_id, declared, learners_reached, dropped_here
FROM course_funnel_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

CREATE VIEW IF NOT EXISTS course_summary AS
SELECT tenant, course_id, learners_started, active_learners, completed, passed, certified, at_risk, dropped,
       completion_rate, pass_rate, certificate_conversion, top_dropoff_module, top_dropoff_position,
       top_dropoff_learners, watermark_us
FROM course_summary_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

CREATE VIEW IF NOT EXISTS cohort_retention AS
SELECT tenant, course_id, cohort_week, week_number, cohort_size, active_learners, retention
FROM cohort_retention_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);
