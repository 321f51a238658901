-- The JSON of GET /xapi/statements pages, apart from the narrow page columns, in small granules (issue 16).
-- A page's JSON was read from statements_by_stored, whose granules hold 8,192 statements (about 10 MB of
-- JSON): a page of an agent's statements spread over months touched one granule per statement, seconds at
-- 1M statements. Here a granule is 256 statements (about 300 KB), so a page reads only about what it returns.
-- The JSON moves rather than being copied again: statements_by_stored keeps its narrow columns (what the page
-- queries read) and loses its JSON column, so a statement's JSON is still stored twice (here and in
-- `statements`, keyed by id for voiding and conflicts). related_agents lets the eraser find the learner's rows
-- (erasure_tables). Filled by the view from every insert into `statements`; redelivered and voided rewrites
-- land on the same key and merge away.
CREATE TABLE IF NOT EXISTS statement_json
(
    tenant String,
    stored_us Int64,
    statement_id String,
    related_agents Array(String),
    statement String
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, stored_us, statement_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_json_mv TO statement_json
AS SELECT tenant, stored_us, statement_id, related_agents, statement FROM statements;

-- Statements stored before this migration (a row also written by the view meanwhile is merged away).
INSERT INTO statement_json (tenant, stored_us, statement_id, related_agents, statement)
SELECT tenant, stored_us, statement_id, related_agents, statement FROM statements;

-- statements_by_stored without its JSON: the new view runs alongside the old one until that is dropped (rows
-- written by both merge away), so no insert goes uncopied; the column is dropped last (18.16 has no
-- DROP COLUMN IF EXISTS: a failed run is re-run from here only if it failed before this statement).
CREATE MATERIALIZED VIEW IF NOT EXISTS statements_by_stored_ids_mv TO statements_by_stored
AS SELECT tenant, stored_us, statement_id, client_key, agents, related_agents, verb_id, object_id, object_type,
          related_activities, registration
FROM statements;

DROP TABLE IF EXISTS statements_by_stored_mv;

ALTER TABLE statements_by_stored DROP COLUMN statement;
