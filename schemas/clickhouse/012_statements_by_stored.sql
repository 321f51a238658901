-- The statements again, ordered by stored time: what GET /xapi/statements pages through.
-- `statements` is keyed by id (for exactly-once and voiding), so a page of the newest statements read
-- and merged (FINAL) every row of the tenant, JSON included: seconds at 1M statements. Here a page's ids
-- come from narrow columns, and its JSON from the one or two granules the page occupies.
-- Filled by the view from every insert into `statements`; a statement's stored time never changes, so a
-- redelivered or voided rewrite lands on the same key and merges away. Voiding is not kept here: queries
-- read `statement_voids`. The JSON is stored twice: the price of fast paging.
CREATE TABLE IF NOT EXISTS statements_by_stored
(
    tenant String,
    stored_us Int64,
    statement_id String,
    client_key String,
    agents Array(String),
    related_agents Array(String),
    verb_id String,
    object_id String,
    object_type String,
    related_activities Array(String),
    registration String,
    statement String
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, stored_us, statement_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS statements_by_stored_mv TO statements_by_stored
AS SELECT tenant, stored_us, statement_id, client_key, agents, related_agents, verb_id, object_id, object_type,
          related_activities, registration, statement
FROM statements;

-- Statements stored before this migration (a row also written by the view meanwhile is merged away).
INSERT INTO statements_by_stored
SELECT tenant, stored_us, statement_id, client_key, agents, related_agents, verb_id, object_id, object_type,
       related_activities, registration, statement
FROM statements;
