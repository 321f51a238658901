-- The current version of one credential.
-- params: {"key": "k"}
SELECT tenant, name, secret_hash, scopes, revoked
FROM credentials FINAL
WHERE key = %(key)s
LIMIT 1
