-- One statement of a tenant by id, with its voided flag and the key that stored it. The earliest stored version
-- (ties: the smaller JSON): until a loser of two sinks' race is removed, reads already show the winner.
-- params: {"tenant": "t", "statement_id": "00000000-0000-4000-8000-000000000000"}
SELECT statement, max(voided) AS is_voided, stored_us, any(client_key) AS key
FROM statements
WHERE tenant = %(tenant)s AND statement_id = %(statement_id)s
GROUP BY stored_us, statement
ORDER BY stored_us, statement
LIMIT 1
