-- Record the clock a tenant's analytics were just computed at (rows passed as data).
-- insert: [["t", 0, 1]]
INSERT INTO analytics_clock (tenant, clock_us, computed_us) VALUES
