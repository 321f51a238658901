-- Erasure requests the eraser still has work on (oldest first).
-- params: {}
SELECT tenant, request_id, ifi_sha256, ifis, requested_us, state, attempts, issued_us, next_try_us, error, attachments, work_courses, work_learners, statements_erased, documents_erased, attachments_erased, updated_us
FROM erasure_requests FINAL
WHERE state IN ('pending', 'applying', 'failed')
ORDER BY requested_us
