-- Record applied migrations (rows passed as data).
-- insert: [["001_x.sql", "abc", 0]]
INSERT INTO schema_migrations (name, checksum, applied_us) VALUES
