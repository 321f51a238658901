-- Forget one 10-minute slot of recent versions (a partition: no mutation, its parts are removed whole).
-- params: {"slot": 2940000}
ALTER TABLE statement_versions_recent DROP PARTITION %(slot)s
