-- Every table that holds learner data, found by its columns (so a new table is erased without code changes):
-- related_agents (statements and their copies: every agent a statement names), actor_ifi (per-learner rows),
-- agent (documents). Views are left out: erasing their tables erases them.
-- params: {}
SELECT table, groupArray(name) AS columns
FROM system.columns
WHERE database = currentDatabase() AND name IN ('related_agents', 'actor_ifi', 'agent')
  AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND endsWith(engine, 'MergeTree'))
GROUP BY table
ORDER BY table
