-- The versions of ids inserted in the last hours (recent_versions_keep_s): what the sink's conflict checks read
-- instead of the whole history. A random-id lookup reads about one granule per id per part, so checking a batch of
-- ids against a 10M-statement tenant cost the sink a third of ClickHouse's CPU (docs/benchmarks.md), and more as the
-- tenant grew. But a copy the sink must find was inserted after the LRS's own check of the id (else the LRS would
-- have refused it or answered "already stored"), and a race or a crashed earlier attempt of the batch happened after
-- the statement was stored: both are recent (streams/conflicts.py). Partitioned by the 10 minutes of insertion: a
-- check reads the last one or two, and old ones are dropped whole (`statement_versions_recent_drop_partition`, by
-- the workers' leader). `inserted` is the inserting server's clock. Replaces statement_versions (every version of
-- every id, which only that re-check read). Keeps no learner identifier (like statement_ids).
CREATE TABLE IF NOT EXISTS statement_versions_recent
(
    tenant String,
    statement_id String,
    stored_us Int64,
    statement_hash UInt64,
    inserted DateTime
)
ENGINE = ReplacingMergeTree()
PARTITION BY intDiv(toUInt32(inserted), 600)
ORDER BY (tenant, statement_id, stored_us, statement_hash)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_versions_recent_mv TO statement_versions_recent
AS SELECT tenant, statement_id, stored_us, cityHash64(statement) AS statement_hash, now() AS inserted FROM statements;

DROP TABLE IF EXISTS statement_versions_mv;
DROP TABLE IF EXISTS statement_versions;
