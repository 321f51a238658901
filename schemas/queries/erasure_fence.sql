-- The identifiers (SHA-256) of every erasure request changed since a time, with the request and when it was requested:
-- what the sink keeps out (streams/erasure.py, ErasureFence), and which request to apply again when a batch wrote
-- rows it covers. Every row, not FINAL: requested_us never changes within a request.
-- params: {"since_us": 0}
SELECT tenant, request_id, ifi_sha256, requested_us, updated_us
FROM erasure_requests
WHERE updated_us >= %(since_us)s
