-- Every table holding rows of statements, found by its columns (so a new copy of the statements is covered
-- without code changes): a statement_id plus what tells one version of the id from another (statement,
-- statement_hash, actor_ifi and timestamp_us, or stored_us). The records of conflicts and removals are kept.
-- params: {}
SELECT table, groupArray(name) AS columns
FROM system.columns
WHERE database = currentDatabase()
  AND name IN ('statement_id', 'statement', 'statement_hash', 'actor_ifi', 'timestamp_us', 'stored_us')
  AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND endsWith(engine, 'MergeTree'))
  AND table NOT IN ('statement_conflicts', 'statement_removals')
GROUP BY table
HAVING has(groupArray(name), 'statement_id')
ORDER BY table
