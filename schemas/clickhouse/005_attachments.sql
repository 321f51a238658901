-- Attachment bytes (base64), one row per tenant and SHA-2, written by the LRS before it publishes the
-- statements that reference them. Re-sending the same bytes rewrites the same key.
CREATE TABLE IF NOT EXISTS attachments
(
    tenant String,
    sha2 String,
    content_type String,
    content_b64 String,
    stored_us Int64
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, sha2);
