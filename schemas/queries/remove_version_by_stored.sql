-- Remove a losing version of a statement id from one table keyed by stored time only (statements_by_stored_month,
-- statement_keys_by_month). Two versions stored in the same millisecond cannot be told apart here: both rows stay.
-- params: {"tenant": "t", "statement_id": "00000000-0000-4000-8000-000000000000", "stored_us": 2, "statement_hash": 7, "actor_ifi": "mbox:mailto:b@b.c", "timestamp_us": 2, "winner_stored_us": 1, "winner_actor_ifi": "mbox:mailto:a@b.c", "winner_timestamp_us": 1}
ALTER TABLE statements_by_stored_month DELETE WHERE tenant = %(tenant)s AND statement_id = %(statement_id)s
    AND stored_us = %(stored_us)s AND stored_us != %(winner_stored_us)s
