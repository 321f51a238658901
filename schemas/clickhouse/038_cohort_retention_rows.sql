-- `cohort_retention` kept per key (course, cohort week, week number) instead of one full copy per version of the
-- course (docs/metrics.md, "How the tables are kept"): a version rewrote every cohort's triangle, about
-- weeks * weeks / 2 rows for a course `weeks` old (1,400 rows a round a year in). Now the worker that owns a course
-- writes only the rows of the cohorts its learners moved, and each cohort's new week when the clock passes a Monday;
-- the newest version of a key wins (read with FINAL), and `present = 0` is a row the triangle no longer has.
CREATE TABLE IF NOT EXISTS cohort_retention_rows
(
    tenant String,
    course_id String,
    cohort_week Date,
    week_number UInt32,
    cohort_size UInt64,
    active_learners UInt64,
    retention Float64,
    present UInt8,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, cohort_week, week_number);

-- The current version of every course, as the per-version table held it.
INSERT INTO cohort_retention_rows
SELECT tenant, course_id, cohort_week, week_number, cohort_size, active_learners, retention, toUInt8(1), version
FROM cohort_retention_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

DROP TABLE IF EXISTS cohort_retention;

CREATE VIEW IF NOT EXISTS cohort_retention AS
SELECT tenant, course_id, cohort_week, week_number, cohort_size, active_learners, retention
FROM cohort_retention_rows FINAL
WHERE present = 1;

DROP TABLE IF EXISTS cohort_retention_data;
