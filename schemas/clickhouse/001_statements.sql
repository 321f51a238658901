-- Raw statements: one row per statement, exactly as stored by the LRS.
-- ReplacingMergeTree keyed by (tenant, statement_id): a statement delivered twice (at-least-once) is
-- stored once; `version` is 1 for a row rewritten as voided, so the voided copy wins the merge.
-- Read with FINAL (or argMax) to see exactly one row per statement.
-- No PARTITION BY on purpose: a duplicate must land in the same partition to be merged away.
CREATE TABLE IF NOT EXISTS statements
(
    tenant String,
    statement_id String,
    stored_us Int64,
    timestamp_us Int64,
    actor_ifi String,
    verb_id String,
    object_id String,
    object_type String,
    registration String,
    agents Array(String),
    related_agents Array(String),
    related_activities Array(String),
    client_key String,
    course_id String,
    module_id String,
    result_success Nullable(UInt8),
    result_completion Nullable(UInt8),
    result_score_scaled Nullable(Float64),
    result_duration_s Nullable(Float64),
    voiding_target String,
    voided UInt8,
    statement String,
    version UInt8
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, statement_id);

-- Voiding records, kept apart so a voiding statement that arrives before its target still voids it.
CREATE TABLE IF NOT EXISTS statement_voids
(
    tenant String,
    target_id String,
    voiding_id String,
    stored_us Int64
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, target_id, voiding_id);
