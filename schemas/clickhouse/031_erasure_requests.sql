-- GDPR erasure requests and their progress (streams/erasure.py; `lrs erase --status`). The newest row of a
-- request wins (read with FINAL). States: requested (lrs erase published it), pending (the sink reached it in the
-- learner's partition: everything they sent before is written), applying (deletes issued over every table with a
-- learner column, waiting for ClickHouse's mutations), done, failed (the attempt failed or its mutations did not
-- finish within LRS_ERASURE_TIMEOUT_S; retried at next_try_us with back-off).
-- `ifis` (the learner's identifiers) are kept only until the erasure is done: the done row has none, and the
-- eraser merges the table then, so no older row keeps them. `work_*` are the (course, learner) rows to recompute
-- afterwards (other learners whose statements named the erased one; '' = the course only), `attachments` the
-- SHA-2 of attachments only the erased statements used: both kept so a retry after a restart still knows them.
CREATE TABLE IF NOT EXISTS erasure_requests
(
    tenant String,
    request_id String,
    ifi_sha256 Array(String),
    ifis Array(String),
    requested_us UInt64,
    state String,
    attempts UInt32,
    issued_us UInt64,
    next_try_us UInt64,
    error String,
    attachments Array(String),
    work_courses Array(String),
    work_learners Array(String),
    statements_erased UInt64,
    documents_erased UInt64,
    attachments_erased UInt64,
    updated_us UInt64
)
ENGINE = ReplacingMergeTree(updated_us)
ORDER BY (tenant, request_id);
