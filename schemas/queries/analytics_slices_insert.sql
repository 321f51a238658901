-- Publish a recomputed slice: from now on the public views show this version (rows passed as data).
-- insert: [["t", "c", 1, 0, 0]]
INSERT INTO analytics_slices (tenant, course_id, version, watermark_us, computed_us) VALUES
