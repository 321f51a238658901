-- The attachments (SHA-2) that only statements naming the learner reference: erased with them. An attachment
-- another statement of the tenant also uses stays (attachments are stored once per tenant and hash).
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
SELECT DISTINCT sha2
FROM
(
    SELECT arrayJoin(extractAll(statement, '"sha2":"([0-9a-fA-F]+)"')) AS sha2
    FROM statements
    WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents)
) AS erased
WHERE sha2 NOT IN (
    SELECT arrayJoin(extractAll(statement, '"sha2":"([0-9a-fA-F]+)"'))
    FROM statements
    WHERE tenant = %(tenant)s AND NOT arrayExists(a -> a IN %(ifis)s, related_agents)
      AND position(statement, '"sha2"') > 0)
