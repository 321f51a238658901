-- The ids of one page of a tenant's statements without agent/verb/activity/registration filters, stored-time
-- ASCENDING (GET /xapi/statements), within the stored-time window [lo_us, hi_us] that
-- lrs/service/statements/page.py picks from statement_key_hours_by_month (the query's since/until/snapshot/position
-- folded in). Plain bounds on stored_us, so that ClickHouse 18.16 reads only the window's primary-key range
-- (it does not fold `(flag = 0 OR stored_us > x)` before index analysis). Voided statements are left out;
-- LIMIT 1 BY: a statement written twice shows once even before the merge.
-- params: {"tenant": "t", "lo_us": 0, "hi_us": 9000000000000000, "has_after": 0, "after_us": 0, "after_id": "", "client_key": "", "limit": 10}
SELECT statement_id, stored_us
FROM statements_by_stored_month
WHERE tenant = %(tenant)s AND stored_us >= %(lo_us)s AND stored_us <= %(hi_us)s
  AND (%(has_after)s = 0 OR stored_us > %(after_us)s OR (stored_us = %(after_us)s AND statement_id > %(after_id)s))
  AND (%(client_key)s = '' OR client_key = %(client_key)s)
  AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
ORDER BY stored_us ASC, statement_id ASC
LIMIT 1 BY statement_id
LIMIT %(limit)s
