-- Two sinks that insert different statements under one new id at once (two learners, two partitions: each check
-- saw nothing stored) are settled after the insert (streams/conflicts.py): the earliest stored wins, the others
-- are removed from every table by the eraser's timer (streams/erasure.py) and their analytics recomputed.

-- Every stored version of an id: what the sink re-checks after each insert. Narrow (no JSON: its hash tells two
-- statements with the same `stored` millisecond apart) and keyed by id, so a batch's re-check reads one 256-row
-- granule per id. Keeps no learner identifier (like statement_ids). Ids stored before this migration are not
-- copied: only ids that the sink has just checked are looked up, and their versions are all inserted from now on.
CREATE TABLE IF NOT EXISTS statement_versions
(
    tenant String,
    statement_id String,
    stored_us Int64,
    statement_hash UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, statement_id, stored_us, statement_hash)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_versions_mv TO statement_versions
AS SELECT tenant, statement_id, stored_us, cityHash64(statement) AS statement_hash FROM statements;

-- A losing version to remove (the newest row of a removal wins; read with FINAL). States as erasure_requests:
-- pending (recorded by the sink), applying (deletes issued), failed (retried at next_try_us), done.
-- The loser is named by its stored time and JSON hash; `actor_ifi`/`timestamp_us` find its rows in the per-learner
-- tables, the winner's values keep a delete off the winner's rows. `related_agents` (both learners) lets a GDPR
-- erasure remove the row like those of `statements`.
CREATE TABLE IF NOT EXISTS statement_removals
(
    tenant String,
    statement_id String,
    stored_us Int64,
    statement_hash UInt64,
    timestamp_us Int64,
    actor_ifi String,
    course_id String,
    winner_stored_us Int64,
    winner_timestamp_us Int64,
    winner_actor_ifi String,
    related_agents Array(String),
    state String,
    attempts UInt32,
    issued_us UInt64,
    next_try_us UInt64,
    error String,
    requested_us UInt64,
    updated_us UInt64
)
ENGINE = ReplacingMergeTree(updated_us)
ORDER BY (tenant, statement_id, stored_us, statement_hash);
