-- The sink's progress: last Kafka offset per partition whose statements are durably in `statements`.
-- LRS processes read it for read-your-writes and X-Experience-API-Consistent-Through.
-- Latest write wins (version = updated_us), so a broker that restarts from offset 0 is followed.
CREATE TABLE IF NOT EXISTS sink_offsets
(
    topic String,
    partition UInt32,
    offset Int64,
    updated_us Int64
)
ENGINE = ReplacingMergeTree(updated_us)
ORDER BY (topic, partition);
