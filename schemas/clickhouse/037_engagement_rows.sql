-- `engagement_daily` and `engagement_hourly` kept per key (course and day, course and hour) instead of one full
-- copy per version of the course (docs/metrics.md, "How the tables are kept"): a version rewrote every day and
-- hour of the course's history, so the rows a round wrote grew with the course's lifetime (8,760 hourly rows a
-- round for a course active for a year). Now the worker that owns a course writes only the days and hours whose
-- sums changed; the newest version of a key wins (read with FINAL), and `present = 0` is a day or hour that no
-- longer has a counting statement.
CREATE TABLE IF NOT EXISTS engagement_daily_rows
(
    tenant String,
    course_id String,
    day Date,
    active_learners UInt64,
    statements UInt64,
    sessions UInt64,
    time_on_task_s Float64,
    present UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, day);

CREATE TABLE IF NOT EXISTS engagement_hourly_rows
(
    tenant String,
    course_id String,
    hour DateTime,
    active_learners UInt64,
    statements UInt64,
    sessions UInt64,
    time_on_task_s Float64,
    present UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, hour);

-- The current version of every course, as the per-version tables held it.
INSERT INTO engagement_daily_rows
SELECT tenant, course_id, day, active_learners, statements, sessions, time_on_task_s, toUInt8(1), version
FROM engagement_daily_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

INSERT INTO engagement_hourly_rows
SELECT tenant, course_id, hour, active_learners, statements, sessions, time_on_task_s, toUInt8(1), version
FROM engagement_hourly_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

DROP TABLE IF EXISTS engagement_daily;

DROP TABLE IF EXISTS engagement_hourly;

CREATE VIEW IF NOT EXISTS engagement_daily AS
SELECT tenant, course_id, day, active_learners, statements, sessions, time_on_task_s
FROM engagement_daily_rows FINAL
WHERE present = 1;

CREATE VIEW IF NOT EXISTS engagement_hourly AS
SELECT tenant, course_id, hour, active_learners, statements, sessions, time_on_task_s
FROM engagement_hourly_rows FINAL
WHERE present = 1;

DROP TABLE IF EXISTS engagement_daily_data;

DROP TABLE IF EXISTS engagement_hourly_data;
