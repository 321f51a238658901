-- Remove a losing version of a statement id from one per-learner table (actor_ifi and timestamp_us, no JSON): the
-- loser's learner and time name its rows; a row with the winner's learner and time is the winner's and stays.
-- params: {"tenant": "t", "statement_id": "00000000-0000-4000-8000-000000000000", "stored_us": 2, "statement_hash": 7, "actor_ifi": "mbox:mailto:b@b.c", "timestamp_us": 2, "winner_stored_us": 1, "winner_actor_ifi": "mbox:mailto:a@b.c", "winner_timestamp_us": 1}
ALTER TABLE learner_statements DELETE WHERE tenant = %(tenant)s AND statement_id = %(statement_id)s
    AND actor_ifi = %(actor_ifi)s AND timestamp_us = %(timestamp_us)s
    AND NOT (actor_ifi = %(winner_actor_ifi)s AND timestamp_us = %(winner_timestamp_us)s)
