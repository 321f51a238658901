-- Basic-auth clients. Secrets are stored as argon2 hashes only. Rows are never updated in place:
-- a rotation or revocation writes a newer row (version = updated_us), so every LRS process sees it.
CREATE TABLE IF NOT EXISTS credentials
(
    key String,
    tenant String,
    name String,
    secret_hash String,
    scopes Array(String),
    revoked UInt8,
    updated_us Int64
)
ENGINE = ReplacingMergeTree(updated_us)
ORDER BY key;
