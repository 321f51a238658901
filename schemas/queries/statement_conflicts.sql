-- The recorded conflicts of a tenant's statement id (newest first).
-- params: {"tenant": "t", "statement_id": "00000000-0000-4000-8000-000000000000"}
SELECT kept_sha256, rejected_sha256, rejected_stored_us, rejected_client_key, statement, detected_us
FROM statement_conflicts FINAL
WHERE tenant = %(tenant)s AND statement_id = %(statement_id)s
ORDER BY detected_us DESC
