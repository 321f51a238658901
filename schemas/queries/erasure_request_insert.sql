-- A new state of an erasure request (rows passed as data; column order of streams/erasure.py REQUEST_COLUMNS).
-- insert: [["t", "r1", ["00"], ["mbox:mailto:a@example.com"], 1, "pending", 0, 0, 0, "", [], [], [], 0, 0, 0, 2]]
INSERT INTO erasure_requests (tenant, request_id, ifi_sha256, ifis, requested_us, state, attempts, issued_us, next_try_us, error, attachments, work_courses, work_learners, statements_erased, documents_erased, attachments_erased, updated_us) VALUES
