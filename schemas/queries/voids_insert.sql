-- Record voiding statements (rows passed as data).
-- insert: [["t", "00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-000000000001", 1]]
INSERT INTO statement_voids (tenant, target_id, voiding_id, stored_us) VALUES
