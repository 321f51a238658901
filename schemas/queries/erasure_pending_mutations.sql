-- Unfinished mutations on the tables an erasure touches (0 = the erasure is visible everywhere).
-- params: {}
SELECT count()
FROM system.mutations
WHERE database = currentDatabase() AND is_done = 0
  AND table IN ('statements', 'statements_by_stored_month', 'statements_by_time', 'documents', 'learner_course_rows')
