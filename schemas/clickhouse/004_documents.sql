-- State, Activity Profile and Agent Profile documents. Written only by the documents worker (one
-- writer per document set, see streams/documents.py); every write is a new row version, a DELETE is a
-- row with deleted = 1. ReplacingMergeTree(version): read with FINAL, filtering only on key columns
-- inside FINAL and on `deleted` outside it (a PREWHERE on a non-key column would see old versions).
-- `content` is the document's bytes in base64; `request_id` is the command that wrote the row, so a
-- redelivered command is recognised and not applied twice. No PARTITION BY: versions of one document
-- must meet in one partition to be merged.
-- resource: 'state' | 'activity_profile' | 'agent_profile'; unused key parts are ''.
CREATE TABLE IF NOT EXISTS documents
(
    tenant String,
    resource String,
    activity_id String,
    agent String,
    registration String,
    doc_id String,
    content String,
    content_type String,
    etag String,
    updated_us UInt64,
    deleted UInt8,
    request_id String,
    version UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (tenant, resource, activity_id, agent, registration, doc_id);

-- The outcome of each document command, written by the worker after the documents row; the LRS that
-- produced the command polls it by request_id and answers the client with it.
CREATE TABLE IF NOT EXISTS document_results
(
    request_id String,
    status UInt16,
    etag String,
    message String,
    created_us UInt64
)
ENGINE = ReplacingMergeTree()
ORDER BY request_id;
