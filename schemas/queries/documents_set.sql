-- The latest version of every document of a set, deleted or not, optionally of one registration only
-- (the worker's view before a multi-document DELETE). Filters only key columns inside FINAL.
-- params: {"tenant": "t", "resource": "state", "activity_id": "https://example.com/a1", "agent": "mbox:mailto:a@example.com", "any_registration": 1, "registration": ""}
SELECT doc_id, registration, content, content_type, etag, updated_us, deleted, request_id, version
FROM documents FINAL
WHERE tenant = %(tenant)s AND resource = %(resource)s AND activity_id = %(activity_id)s AND agent = %(agent)s
  AND (%(any_registration)s = 1 OR registration = %(registration)s)
ORDER BY registration, doc_id
