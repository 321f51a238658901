-- Names a tenant's statements gave to one agent IFI as actor (for the Person object of GET /xapi/agents).
-- params: {"tenant": "t", "ifi": "mbox:mailto:a@b.c"}
SELECT DISTINCT visitParamExtractString(visitParamExtractRaw(statement, 'actor'), 'name') AS name
FROM statements FINAL
WHERE tenant = %(tenant)s AND actor_ifi = %(ifi)s
LIMIT 20
