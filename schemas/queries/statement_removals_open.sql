-- Removals of losing statement versions the eraser still has work on (oldest first).
-- params: {}
SELECT tenant, statement_id, stored_us, statement_hash, timestamp_us, actor_ifi, course_id, winner_stored_us,
       winner_timestamp_us, winner_actor_ifi, related_agents, state, attempts, issued_us, next_try_us, error,
       requested_us, updated_us
FROM statement_removals FINAL
WHERE state IN ('pending', 'applying', 'failed')
ORDER BY requested_us
