-- Record the sink's progress (rows passed as data).
-- insert: [["xapi.statements", 0, 10, 1]]
INSERT INTO sink_offsets (topic, partition, offset, updated_us) VALUES
