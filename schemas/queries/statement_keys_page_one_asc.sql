-- Generated from schemas/analytics/statement_keys_page.sql.in by schemas/analytics/generate.py: edit that.
-- The ids of one page of a filtered statement query, stored-time ASCENDING (GET /xapi/statements), within the
-- stored-time window [lo_us, hi_us] that lrs/service/statements/page.py picks from statement_key_hours_by_month
-- (the query's since/until/snapshot/position folded in; plain bounds, so ClickHouse 18.16 uses them on the key and
-- to skip other months' partitions). First part: the statement_keys_by_month range of the driving filter value
-- (kind, key; direct = 1 when only the actor or object counts); verb and the caller's key checked on the row, a second agent or activity (and_agent,
-- and_activity) through its own range in the window. Second part: StatementRefs whose target matches every
-- filter (xAPI "filter conditions for StatementRefs"): the tenant's StatementRef rows (kind 5) in the window,
-- their targets checked in `statements` by its primary key; since, until and paging apply to the returned
-- statement itself. A window holding a full page of both parts together holds the page (all else is further
-- from the page's end). Voided statements are left out; LIMIT 1 BY: a statement written twice shows once even
-- before the merge. page.py merges the two parts.
-- This variant: no and_agent or and_activity check (page.py picks it when both are empty).
-- params: {"tenant": "t", "kind": 1, "key": "mbox:mailto:a@example.com", "direct": 1, "lo_us": 0, "hi_us": 9000000000000000, "has_after": 0, "after_us": 0, "after_id": "", "client_key": "", "and_verb": "", "and_agent": "", "and_activity": "", "agent": "mbox:mailto:a@example.com", "related_agents": 0, "verb": "", "activity": "", "related_activities": 0, "registration": "", "limit": 10}
SELECT statement_id, stored_us
FROM statement_keys_by_month
WHERE tenant = %(tenant)s AND kind = %(kind)s AND key = %(key)s AND (%(direct)s = 0 OR direct = 1)
  AND stored_us >= %(lo_us)s AND stored_us <= %(hi_us)s
  AND (%(has_after)s = 0 OR stored_us > %(after_us)s OR (stored_us = %(after_us)s AND statement_id > %(after_id)s))
  AND (%(client_key)s = '' OR client_key = %(client_key)s)
  AND (%(and_verb)s = '' OR verb_id = %(and_verb)s)
  AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
ORDER BY stored_us ASC, statement_id ASC
LIMIT 1 BY statement_id
LIMIT %(limit)s
UNION ALL
SELECT statement_id, stored_us
FROM statement_keys_by_month
WHERE tenant = %(tenant)s AND kind = 5
  AND stored_us >= %(lo_us)s AND stored_us <= %(hi_us)s
  AND (%(has_after)s = 0 OR stored_us > %(after_us)s OR (stored_us = %(after_us)s AND statement_id > %(after_id)s))
  AND (%(client_key)s = '' OR client_key = %(client_key)s)
  AND key IN (
      SELECT statement_id FROM statements
      WHERE tenant = %(tenant)s
        AND statement_id IN (SELECT key FROM statement_keys_by_month
                             WHERE tenant = %(tenant)s AND kind = 5 AND stored_us >= %(lo_us)s AND stored_us <= %(hi_us)s)
        AND (%(agent)s = '' OR has(if(%(related_agents)s = 1, related_agents, agents), %(agent)s))
        AND (%(verb)s = '' OR verb_id = %(verb)s)
        AND (%(activity)s = '' OR (%(related_activities)s = 1 AND has(related_activities, %(activity)s))
             OR (object_id = %(activity)s AND object_type = 'Activity'))
        AND (%(registration)s = '' OR registration = %(registration)s))
  AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
ORDER BY stored_us ASC, statement_id ASC
LIMIT 1 BY statement_id
LIMIT %(limit)s
