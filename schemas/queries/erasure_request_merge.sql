-- Merge the request rows, so no superseded row keeps the identifiers of a finished erasure.
-- params: {}
OPTIMIZE TABLE erasure_requests FINAL
