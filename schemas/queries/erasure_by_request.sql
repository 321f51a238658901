-- An applied erasure, for `lrs erase` waiting on its request.
-- params: {"tenant": "t", "request_id": "r1"}
SELECT done_us, statements_erased, documents_erased
FROM erasures FINAL
WHERE tenant = %(tenant)s AND request_id = %(request_id)s
