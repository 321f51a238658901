-- Statements the sink kept out because a different statement with the same id was stored first (statements are
-- immutable: the first stored wins; see streams/conflicts.py). One row per rejected statement, with both
-- fingerprints (SHA-256 of the comparable statement: without stored, authority and version, and without a
-- timestamp the LRS defaulted to stored) and the rejected statement itself, so an operator can look into it.
-- `related_agents` lets a GDPR erasure find the rows like those of `statements`.
CREATE TABLE IF NOT EXISTS statement_conflicts
(
    tenant String,
    statement_id String,
    kept_sha256 String,
    rejected_sha256 String,
    rejected_stored_us Int64,
    rejected_client_key String,
    related_agents Array(String),
    statement String,
    detected_us Int64
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, statement_id, rejected_sha256);
