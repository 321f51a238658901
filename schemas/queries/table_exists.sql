-- Whether a table exists in a database: 1 or 0 (lrs doctor, before reading a table that may be missing).
-- params: {"database": "lrs", "table": "schema_migrations"}
SELECT count() FROM system.tables WHERE database = %(database)s AND name = %(table)s
