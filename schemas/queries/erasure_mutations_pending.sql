-- Unfinished mutations on these tables created since an erasure attempt issued its deletes (0 = the attempt's
-- deletes are visible everywhere). Older stuck mutations are not ours to wait for, but block ours on the same
-- parts, which the attempt's timeout then reports.
-- params: {"tables": ["statements"], "since_s": 0}
SELECT count()
FROM system.mutations
WHERE database = currentDatabase() AND is_done = 0 AND table IN %(tables)s AND create_time >= toDateTime(%(since_s)s)
