-- One statement of a tenant by id, with its voided flag and the key that stored it.
-- params: {"tenant": "t", "statement_id": "00000000-0000-4000-8000-000000000000"}
SELECT statement, voided, stored_us, client_key
FROM statements FINAL
WHERE tenant = %(tenant)s AND statement_id = %(statement_id)s
LIMIT 1
