-- Which statement ids a tenant has stored: the narrow table a POST's conflict check reads.
-- Reading `statements` for that touched one 8,192-row granule (id and JSON columns) per asked id, so the
-- check cost grew with the table; here a granule is 256 short rows. Filled by the view from every insert
-- into `statements` (the sink's, including voided rewrites: duplicates merge away). Ids stay after an
-- erasure (they identify no one); the check then finds no statement and treats the id as new.
CREATE TABLE IF NOT EXISTS statement_ids
(
    tenant String,
    statement_id String
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, statement_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_ids_mv TO statement_ids
AS SELECT tenant, statement_id FROM statements;

-- Ids stored before this migration (a row also written by the view meanwhile is merged away).
INSERT INTO statement_ids SELECT tenant, statement_id FROM statements;
