-- The latest version of one document, deleted or not (the worker's view before it applies a command).
-- params: {"tenant": "t", "resource": "state", "activity_id": "https://example.com/a1", "agent": "mbox:mailto:a@example.com", "registration": "", "doc_id": "s1"}
SELECT doc_id, registration, content, content_type, etag, updated_us, deleted, request_id, version
FROM documents FINAL
WHERE tenant = %(tenant)s AND resource = %(resource)s AND activity_id = %(activity_id)s AND agent = %(agent)s
  AND registration = %(registration)s AND doc_id = %(doc_id)s
LIMIT 1
