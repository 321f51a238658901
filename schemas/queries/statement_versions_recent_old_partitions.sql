-- The 10-minute slots (seconds / 600) of statement_versions_recent older than `before`, to be dropped.
-- params: {"before": 2940000}
SELECT DISTINCT toUInt64(partition) AS slot
FROM system.parts
WHERE database = currentDatabase() AND table = 'statement_versions_recent' AND active
  AND toUInt64(partition) < %(before)s
ORDER BY slot
