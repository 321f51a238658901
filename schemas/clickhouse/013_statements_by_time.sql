-- What the raw-statement dashboard panels read: narrow columns ordered by event time, so a panel's time
-- range selects its rows by the primary key instead of merging (FINAL) every row of the tenant.
-- Filled by the view from every insert into `statements`; a statement's timestamp never changes, so a
-- redelivered or voided rewrite lands on the same key and merges away (panels count distinct ids until then).
-- Voiding is read from `statement_voids`. related_agents is kept only so a GDPR erasure finds the rows.
CREATE TABLE IF NOT EXISTS statements_by_time
(
    tenant String,
    timestamp_us Int64,
    statement_id String,
    actor_ifi String,
    related_agents Array(String),
    verb_id String,
    object_id String,
    course_id String,
    result_success Nullable(UInt8),
    result_completion Nullable(UInt8),
    result_score_scaled Nullable(Float64),
    voiding_target String
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, timestamp_us, statement_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS statements_by_time_mv TO statements_by_time
AS SELECT tenant, timestamp_us, statement_id, actor_ifi, related_agents, verb_id, object_id, course_id,
          result_success, result_completion, result_score_scaled, voiding_target
FROM statements;

-- Statements stored before this migration (a row also written by the view meanwhile is merged away).
INSERT INTO statements_by_time
SELECT tenant, timestamp_us, statement_id, actor_ifi, related_agents, verb_id, object_id, course_id,
       result_success, result_completion, result_score_scaled, voiding_target
FROM statements;
