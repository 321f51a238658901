-- The ids of one page of a tenant's statement query, stored-time ASCENDING (GET /xapi/statements).
-- Empty strings / zero flags switch a filter off; snapshot_us bounds every page of one query so that
-- paging with 'more' has neither duplicates nor gaps while new statements arrive.
-- A statement whose object is a StatementRef also matches when the statement it targets matches the
-- agent/verb/activity/registration filters (xAPI "filter conditions for StatementRefs"); since, until
-- and paging always apply to the returned statement itself. Voided statements are left out.
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
  AND (%(filtered)s = 0
       OR ((%(agent)s = '' OR has(if(%(related_agents)s = 1, related_agents, agents), %(agent)s))
           AND (%(verb)s = '' OR verb_id = %(verb)s)
           AND (%(activity)s = '' OR (%(related_activities)s = 1 AND has(related_activities, %(activity)s))
                OR (object_id = %(activity)s AND object_type = 'Activity'))
           AND (%(registration)s = '' OR registration = %(registration)s))
       OR (object_type = 'StatementRef' AND object_id IN (
           SELECT statement_id FROM statements_by_stored
           WHERE tenant = %(tenant)s AND %(filtered)s = 1
             AND (%(agent)s = '' OR has(if(%(related_agents)s = 1, related_agents, agents), %(agent)s))
             AND (%(verb)s = '' OR verb_id = %(verb)s)
             AND (%(activity)s = '' OR (%(related_activities)s = 1 AND has(related_activities, %(activity)s))
                  OR (object_id = %(activity)s AND object_type = 'Activity'))
             AND (%(registration)s = '' OR registration = %(registration)s))))
ORDER BY stored_us ASC, statement_id ASC
LIMIT 1 BY statement_id
LIMIT %(limit)s
