-- Which statement ids a tenant has stored, as one 64-bit key per id: the table a POST's conflict check (and the
-- sink's whole-history checks) read first. A random-id lookup reads about one granule per id and part for each
-- column; measured on 18.16 with 10M ids of one tenant in one part, 100 ids a query: 10-11 ms of CPU a query on the
-- (tenant, statement_id) strings of statement_ids, 4-5 ms on this one column (docs/benchmarks.md).
-- Two ids sharing a key (64 bits: even among 10^8 ids, some pair does with odds of about 1 in 4,000) only send the
-- check on to the statements, which find no statement for the new id: a key says "maybe stored", the statements
-- decide. Replaces statement_ids (the same number of tables per insert, a quarter of its bytes).
CREATE TABLE IF NOT EXISTS statement_id_keys
(
    key UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY key
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_id_keys_mv TO statement_id_keys
AS SELECT cityHash64(tenant, statement_id) AS key FROM statements;

-- Ids stored before this migration (a key also written by the view meanwhile is merged away).
INSERT INTO statement_id_keys SELECT cityHash64(tenant, statement_id) FROM statement_ids;

DROP TABLE IF EXISTS statement_ids_mv;
DROP TABLE IF EXISTS statement_ids;
