-- Store attachment bytes (rows passed as data).
-- insert: [["t", "abc", "text/plain", "aGVsbG8=", 1]]
INSERT INTO attachments (tenant, sha2, content_type, content_b64, stored_us) VALUES
