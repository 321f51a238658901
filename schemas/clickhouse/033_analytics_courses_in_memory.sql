-- Who wrote a course's learner_state rows last (docs/metrics.md, "How the tables are kept"). The worker that owns a
-- course keeps its learner rows in memory (streams/course_state.py); each refresh that writes learner rows records
-- (course, writer, version) here, so a worker sees with one small read whether another process wrote rows of the
-- course since it loaded them (a rebalance, a second worker) and loads them again. No learner identifier.
CREATE TABLE IF NOT EXISTS learner_state_writes
(
    tenant String,
    course_id String,
    writer String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, writer);

-- Each course's input to its tenant's event-time clock: the latest statement time (capped at its stored time) over
-- the course's present learners, and how many there are. Written by the worker that owns the course after each
-- change of its learner rows (from memory), so the tenant's clock is one row per course to read, not one per
-- learner. The newest version wins (read with FINAL).
CREATE TABLE IF NOT EXISTS analytics_course_clock
(
    tenant String,
    course_id String,
    clock_us Int64,
    learners UInt64,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id);

-- The courses whose learner rows were built before this migration.
INSERT INTO analytics_course_clock
SELECT tenant, course_id, max(clock_us), count(), toUInt64(0)
FROM learner_state FINAL
WHERE present = 1
GROUP BY tenant, course_id;
