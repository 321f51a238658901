-- GDPR erasures applied by the sink (lrs erase). The learner's identifiers are not kept: only their
-- SHA-256, so a repeated request can be recognised without re-storing personal data.
CREATE TABLE IF NOT EXISTS erasures
(
    tenant String,
    request_id String,
    ifi_sha256 Array(String),
    requested_us UInt64,
    done_us UInt64,
    statements_erased UInt64,
    documents_erased UInt64
)
ENGINE = ReplacingMergeTree(done_us)
ORDER BY (tenant, request_id);
