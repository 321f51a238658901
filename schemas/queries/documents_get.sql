-- One current (not deleted) document for GET: bytes (base64), Content-Type, ETag, last modification.
-- params: {"tenant": "t", "resource": "state", "activity_id": "https://example.com/a1", "agent": "mbox:mailto:a@example.com", "registration": "", "doc_id": "s1"}
SELECT content, content_type, etag, updated_us
FROM
(
    SELECT content, content_type, etag, updated_us, deleted
    FROM documents FINAL
    WHERE tenant = %(tenant)s AND resource = %(resource)s AND activity_id = %(activity_id)s
      AND agent = %(agent)s AND registration = %(registration)s AND doc_id = %(doc_id)s
) AS current
WHERE deleted = 0
LIMIT 1
