-- The ids of one page of a tenant's statements without agent/verb/activity/registration filters, stored-time
-- ASCENDING (GET /xapi/statements). Like statements_page_asc without the filter block, whose
-- StatementRef sub-select would scan the tenant's ids even when no filter is set.
-- LIMIT 1 BY: a statement written twice shows once even before the merge.
-- params: {"tenant": "t", "filtered": 0, "agent": "", "related_agents": 0, "verb": "", "activity": "", "related_activities": 0, "registration": "", "has_since": 0, "since_us": 0, "has_until": 0, "until_us": 0, "snapshot_us": 9000000000000000, "client_key": "", "has_after": 0, "after_us": 0, "after_id": "", "limit": 10}
SELECT statement_id, stored_us
FROM statements_by_stored
WHERE tenant = %(tenant)s
  AND (%(has_since)s = 0 OR stored_us > %(since_us)s)
  AND (%(has_until)s = 0 OR stored_us <= %(until_us)s)
  AND stored_us <= %(snapshot_us)s
  AND (%(client_key)s = '' OR client_key = %(client_key)s)
  AND (%(has_after)s = 0 OR stored_us > %(after_us)s OR (stored_us = %(after_us)s AND statement_id > %(after_id)s))
  AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
ORDER BY stored_us ASC, statement_id ASC
LIMIT 1 BY statement_id
LIMIT %(limit)s
