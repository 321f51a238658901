-- Attachment bytes of a tenant by SHA-2 (GET statements with attachments=true).
-- params: {"tenant": "t", "hashes": ["abc"]}
SELECT sha2, any(content_type), any(content_b64)
FROM attachments
WHERE tenant = %(tenant)s AND sha2 IN %(hashes)s
GROUP BY sha2
