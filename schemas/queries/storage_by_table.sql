-- Rows and bytes (compressed, uncompressed) of each table of this database, over its active parts: what
-- `lrs bench` reports per statement (issue 16: the cost of the lookup tables and of each JSON copy).
-- params: {}
SELECT table, sum(rows) AS rows, sum(data_compressed_bytes) AS compressed, sum(data_uncompressed_bytes) AS uncompressed
FROM system.parts
WHERE database = currentDatabase() AND active
GROUP BY table
ORDER BY table
