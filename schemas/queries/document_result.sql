-- The outcome of one document command, polled by the LRS that produced it.
-- params: {"request_id": "r1"}
SELECT status, etag, message
FROM document_results
WHERE request_id = %(request_id)s
LIMIT 1
