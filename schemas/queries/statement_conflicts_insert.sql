-- Record statements the sink kept out of the tables (a different statement with the same id was stored first).
-- insert: [["t", "00000000-0000-4000-8000-000000000000", "aa", "bb", 1, "k", ["mbox:mailto:a@b.c"], "{}", 2]]
INSERT INTO statement_conflicts (tenant, statement_id, kept_sha256, rejected_sha256, rejected_stored_us,
    rejected_client_key, related_agents, statement, detected_us) VALUES
