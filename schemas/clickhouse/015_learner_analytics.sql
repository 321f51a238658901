-- Per-learner analytics state (docs/metrics.md, "How the tables are kept"). A sink batch marks the learners it
-- touched; the refresh agent recomputes only those learners' rows in `learner_state`, reading their counting
-- statements from `learner_statements`, which is ordered for exactly that read. The course-level tables
-- (006_analytics.sql) are then derived from `learner_state`, never from the raw statements.

-- The statements that can count (course statements that are not voiding statements), ordered by learner and
-- time: a learner's whole history in a course is one contiguous key range. Filled by the view from every insert
-- into `statements`; a redelivered statement, and the voided rewrite of a statement (voided = 1, version = 1),
-- land on the same key (its course, actor and timestamp never change), so reads with FINAL see one row per
-- statement, voided or not. `types` are the activity types named anywhere in the statement (what the
-- certificate-type rule matches); `related_agents` only lets a GDPR erasure find the rows.
CREATE TABLE IF NOT EXISTS learner_statements
(
    tenant String,
    course_id String,
    actor_ifi String,
    timestamp_us Int64,
    statement_id String,
    stored_us Int64,
    verb_id String,
    object_id String,
    module_id String,
    result_success Nullable(UInt8),
    result_completion Nullable(UInt8),
    types Array(String),
    related_agents Array(String),
    voided UInt8,
    version UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, actor_ifi, timestamp_us, statement_id)
-- Small granules: a batch reads a few dozen rows of each of many learners scattered over the course's range, and
-- every learner costs at least one granule (8,192 rows by default).
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS learner_statements_mv TO learner_statements
AS SELECT tenant, course_id, actor_ifi, timestamp_us, statement_id, stored_us, verb_id, object_id, module_id,
          result_success, result_completion, extractAll(statement, '"type":"([^"]*)"') AS types, related_agents,
          voided, version
FROM statements
WHERE course_id != '' AND voiding_target = '';

-- Statements stored before this migration (rows also written by the view meanwhile merge away).
INSERT INTO learner_statements
SELECT tenant, course_id, actor_ifi, timestamp_us, statement_id, stored_us, verb_id, object_id, module_id,
       result_success, result_completion, extractAll(statement, '"type":"([^"]*)"') AS types, related_agents,
       voided, version
FROM statements
WHERE course_id != '' AND voiding_target = '';

-- One row per learner and course: everything the course-level tables need from that learner, computed from the
-- learner's counting statements alone (streams/learners.py). `present = 0` is a tombstone: the learner has no
-- counting statement in the course any more (voided or erased). The newest version wins; read with FINAL.
-- The per-day and per-hour arrays are the learner's contribution to engagement_daily and engagement_hourly
-- (statements, sessions started, in-session gap microseconds); `visit_*` the first visit of each module.
-- Days, hours and weeks (Mondays) are kept as the Unix seconds at which they start (UTC).
-- `clock_us` is the learner's latest statement time capped at its stored time (the tenant watermark's input).
CREATE TABLE IF NOT EXISTS learner_state
(
    tenant String,
    course_id String,
    actor_ifi String,
    present UInt8,
    first_seen_us Int64,
    last_seen_us Int64,
    clock_us Int64,
    cohort_week_s Int64,
    statements UInt64,
    sessions UInt64,
    tot_us Int64,
    done_objects Array(String),
    passed UInt8,
    certified UInt8,
    visit_modules Array(String),
    visit_first_us Array(Int64),
    weeks_s Array(Int64),
    day_keys_s Array(Int64),
    day_statements Array(UInt64),
    day_starts Array(UInt64),
    day_gap_us Array(Int64),
    hour_keys_s Array(Int64),
    hour_statements Array(UInt64),
    hour_starts Array(UInt64),
    hour_gap_us Array(Int64),
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, course_id, actor_ifi);

-- The clock each tenant's analytics were last computed at, recorded by the refresh (a few rows per tenant):
-- the safety-net timer compares slices with it instead of scanning statements.
CREATE TABLE IF NOT EXISTS analytics_clock
(
    tenant String,
    clock_us Int64,
    computed_us Int64
)
ENGINE = ReplacingMergeTree(computed_us)
ORDER BY tenant;

-- Courses whose learner_state rows were built from all of their statements (a whole-course recompute). A course
-- not listed here (one with statements stored before this migration, or a new one) is recomputed whole the first
-- time it is marked, so learner rows never describe only the learners touched since an upgrade.
CREATE TABLE IF NOT EXISTS learner_courses
(
    tenant String,
    course_id String,
    built_us Int64
)
ENGINE = ReplacingMergeTree(built_us)
ORDER BY (tenant, course_id);
