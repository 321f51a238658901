-- The current state of one erasure request.
-- params: {"tenant": "t", "request_id": "r1"}
SELECT tenant, request_id, ifi_sha256, ifis, requested_us, state, attempts, issued_us, next_try_us, error, attachments, work_courses, work_learners, statements_erased, documents_erased, attachments_erased, updated_us
FROM erasure_requests FINAL
WHERE tenant = %(tenant)s AND request_id = %(request_id)s
