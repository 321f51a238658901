-- Rows of the erased learners still in one per-learner analytics table once its delete finished: a refresh that
-- read their statements before the delete can write its rows after it (a mutation only changes the parts that
-- existed when it was issued). Run for every table erase_by_actor runs on, its name in place of `learner_state`.
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
SELECT count() FROM learner_state WHERE tenant = %(tenant)s AND actor_ifi IN %(ifis)s
