-- Record an applied erasure (rows passed as data).
-- insert: [["t", "r1", ["00"], 1, 2, 3, 4]]
INSERT INTO erasures (tenant, request_id, ifi_sha256, requested_us, done_us, statements_erased, documents_erased) VALUES
