-- Current credentials of a tenant, without secrets.
-- params: {"tenant": "t"}
SELECT key, name, scopes, revoked, updated_us
FROM credentials FINAL
WHERE tenant = %(tenant)s
ORDER BY key
