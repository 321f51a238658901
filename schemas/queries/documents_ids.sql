-- Ids of the current (not deleted) documents of a set changed after since_us (0 = all), optionally of
-- one registration only, with their last modification.
-- params: {"tenant": "t", "resource": "state", "activity_id": "https://example.com/a1", "agent": "mbox:mailto:a@example.com", "any_registration": 1, "registration": "", "since_us": 0}
SELECT doc_id, max(updated_us) AS last_us
FROM
(
    SELECT doc_id, updated_us, deleted
    FROM documents FINAL
    WHERE tenant = %(tenant)s AND resource = %(resource)s AND activity_id = %(activity_id)s
      AND agent = %(agent)s AND (%(any_registration)s = 1 OR registration = %(registration)s)
) AS current
WHERE deleted = 0 AND updated_us > %(since_us)s
GROUP BY doc_id
ORDER BY doc_id
