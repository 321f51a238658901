-- Course and learner of voided targets: a voiding statement has no course itself, but its target's learner must
-- be recomputed.
-- The ids come as data, not in the query text: one comma-joined string in the one-row external table `_ids`
-- (column `ids`), split by the server (lrs/core/store/clickhouse.py, run_in_chunks).
-- params: {"tenant": "t", "ids": "00000000-0000-4000-8000-000000000000,00000000-0000-4000-8000-000000000001"}
SELECT DISTINCT course_id, actor_ifi
FROM statements
WHERE tenant = %(tenant)s AND statement_id IN (SELECT arrayJoin(splitByChar(',', ids)) FROM _ids) AND course_id != '' AND voiding_target = ''
