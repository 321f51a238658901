-- Names of the migrations already applied.
-- params: {}
SELECT name FROM schema_migrations GROUP BY name ORDER BY name
