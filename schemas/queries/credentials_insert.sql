-- Write a credential version (rows passed as data).
-- insert: [["key", "tenant", "name", "hash", ["all"], 0, 1]]
INSERT INTO credentials (key, tenant, name, secret_hash, scopes, revoked, updated_us) VALUES
