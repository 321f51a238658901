-- Erasure requests for `lrs erase --status`: of one tenant, or of every tenant when tenant is '' (newest first).
-- params: {"tenant": "", "limit": 100}
SELECT tenant, request_id, ifi_sha256, ifis, requested_us, state, attempts, issued_us, next_try_us, error, attachments, work_courses, work_learners, statements_erased, documents_erased, attachments_erased, updated_us
FROM erasure_requests FINAL
WHERE %(tenant)s = '' OR tenant = %(tenant)s
ORDER BY requested_us DESC
LIMIT %(limit)s
