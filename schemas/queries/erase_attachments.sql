-- Erase attachments by hash (those erasure_attachments found before the statements were deleted).
-- params: {"tenant": "t", "hashes": ["00"]}
ALTER TABLE attachments DELETE WHERE tenant = %(tenant)s AND sha2 IN %(hashes)s
