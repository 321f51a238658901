-- Bookkeeping for `lrs migrate`: one row per applied migration file.
-- params: {}
CREATE TABLE IF NOT EXISTS schema_migrations
(
    name String,
    checksum String,
    applied_us Int64
)
ENGINE = ReplacingMergeTree()
ORDER BY name
