-- What the Learner dashboard panels read (issue 16): the narrow columns of statements_by_time, ordered by learner
-- first, so a panel reads one learner's primary-key range instead of every statement of the tenant in the
-- dashboard's time range (statements_by_time is ordered by event time: a learner filter there scans the tenant).
-- Filled by the view from every insert into `statements`; a statement's actor and timestamp never change, so a
-- redelivered or voided rewrite lands on the same key and merges away (panels count distinct ids until then).
-- Voiding is read from statement_voids; related_agents lets the eraser find every row naming the learner.
CREATE TABLE IF NOT EXISTS statements_by_learner
(
    tenant String,
    actor_ifi String,
    timestamp_us Int64,
    statement_id String,
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
ORDER BY (tenant, actor_ifi, timestamp_us, statement_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS statements_by_learner_mv TO statements_by_learner
AS SELECT tenant, actor_ifi, timestamp_us, statement_id, related_agents, verb_id, object_id, course_id,
          result_success, result_completion, result_score_scaled, voiding_target
FROM statements;

-- Statements stored before this migration (a row also written by the view meanwhile is merged away).
INSERT INTO statements_by_learner (tenant, actor_ifi, timestamp_us, statement_id, related_agents, verb_id, object_id,
                                   course_id, result_success, result_completion, result_score_scaled, voiding_target)
SELECT tenant, actor_ifi, timestamp_us, statement_id, related_agents, verb_id, object_id, course_id,
       result_success, result_completion, result_score_scaled, voiding_target
FROM statements;
