-- The four tables keyed by stored time, partitioned by the UTC month of `stored` (docs/benchmarks.md, "merges per
-- table"). Unpartitioned, every new part of an insert is in time merged into the history's large parts: with 1M
-- statements stored, about 30,000 new statements in 30 s made ClickHouse rewrite 1.19M rows of statement_json (the
-- whole history's JSON) and 11M rows of statement_key_hours, and in another window 7.2M rows of statement_keys.
-- A part never merges across partitions, so new statements now merge only with the current month's.
-- Safe for replacing and summing: every column of the partition key is in the sorting key (stored_us, hour), so
-- rows that replace or add up always share a partition. The month is in UTC, not the server's zone, so that every
-- replica computes the same partition for a row. Reads that bound stored_us skip other months' parts; the others
-- look up each month's part (a dozen a year).
-- New names (the tables' content is unchanged): ClickHouse cannot partition an existing table, and a RENAME could
-- not be repeated if a run stopped after it; this way every statement is safe to run again.
CREATE TABLE IF NOT EXISTS statement_json_by_month
(
    tenant String,
    stored_us Int64,
    statement_id String,
    related_agents Array(String),
    statement String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(stored_us, 1000000), 'UTC'))
ORDER BY (tenant, stored_us, statement_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_json_by_month_mv TO statement_json_by_month
AS SELECT tenant, stored_us, statement_id, related_agents, statement FROM statements;

-- Rows stored before this migration (a row also written by the view meanwhile has the same key: merged away).
INSERT INTO statement_json_by_month (tenant, stored_us, statement_id, related_agents, statement)
SELECT tenant, stored_us, statement_id, related_agents, statement FROM statement_json;

DROP TABLE IF EXISTS statement_json_mv;
DROP TABLE IF EXISTS statement_json;

CREATE TABLE IF NOT EXISTS statement_key_hours_by_month
(
    tenant String,
    kind UInt8,
    key String,
    agent String,
    hour UInt32,
    statements UInt64
)
ENGINE = SummingMergeTree()
PARTITION BY toYYYYMM(toDateTime(toUInt32(hour * 3600), 'UTC'))
ORDER BY (tenant, kind, key, hour)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_key_hours_by_month_mv TO statement_key_hours_by_month
AS SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent,
       toUInt32(intDiv(stored_us, 3600000000)) AS hour, count() AS statements
FROM statements
ARRAY JOIN arrayConcat(
    [(toUInt8(0), '')],
    arrayMap(a -> (toUInt8(1), a), related_agents),
    [(toUInt8(2), verb_id)],
    arrayMap(a -> (toUInt8(3), a), related_activities),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration)])) AS k
GROUP BY tenant, kind, key, agent, hour;

-- The counts before this migration. Statements stored while it runs may be counted twice (by both views, then
-- copied): these counts only size the window a page is looked for in (lrs/service/statements/page.py), which
-- widens a window that turns out short, so a count too high costs a second read, never a wrong page.
INSERT INTO statement_key_hours_by_month (tenant, kind, key, agent, hour, statements)
SELECT tenant, kind, key, agent, hour, statements FROM statement_key_hours;

DROP TABLE IF EXISTS statement_key_hours_mv;
DROP TABLE IF EXISTS statement_key_hours;

CREATE TABLE IF NOT EXISTS statement_keys_by_month
(
    tenant String,
    kind UInt8,
    key String,
    agent String,
    stored_us Int64,
    statement_id String,
    direct UInt8,
    verb_id String,
    client_key String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(stored_us, 1000000), 'UTC'))
ORDER BY (tenant, kind, key, stored_us, statement_id)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_keys_by_month_mv TO statement_keys_by_month
AS SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent, stored_us,
       statement_id,
       toUInt8(multiIf(kind = 1, tupleElement(k, 3) <= length(agents),
                       kind = 3, tupleElement(k, 3) = 1 AND object_type = 'Activity', 1)) AS direct, verb_id, client_key
FROM statements
ARRAY JOIN arrayConcat(
    arrayMap((a, i) -> (toUInt8(1), a, i), related_agents, arrayEnumerate(related_agents)),
    [(toUInt8(2), verb_id, toUInt32(1))],
    arrayMap((a, i) -> (toUInt8(3), a, i), related_activities, arrayEnumerate(related_activities)),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration, toUInt32(1))]),
    arrayFilter(r -> tupleElement(r, 2) != '',
                [(toUInt8(5), if(object_type = 'StatementRef', object_id, ''), toUInt32(1))])) AS k;

INSERT INTO statement_keys_by_month (tenant, kind, key, agent, stored_us, statement_id, direct, verb_id, client_key)
SELECT tenant, kind, key, agent, stored_us, statement_id, direct, verb_id, client_key FROM statement_keys;

DROP TABLE IF EXISTS statement_keys_mv;
DROP TABLE IF EXISTS statement_keys;

CREATE TABLE IF NOT EXISTS statements_by_stored_month
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
    registration String
)
ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(stored_us, 1000000), 'UTC'))
ORDER BY (tenant, stored_us, statement_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS statements_by_stored_month_mv TO statements_by_stored_month
AS SELECT tenant, stored_us, statement_id, client_key, agents, related_agents, verb_id, object_id, object_type,
          related_activities, registration
FROM statements;

INSERT INTO statements_by_stored_month (tenant, stored_us, statement_id, client_key, agents, related_agents, verb_id,
                                        object_id, object_type, related_activities, registration)
SELECT tenant, stored_us, statement_id, client_key, agents, related_agents, verb_id, object_id, object_type,
       related_activities, registration
FROM statements_by_stored;

DROP TABLE IF EXISTS statements_by_stored_ids_mv;
DROP TABLE IF EXISTS statements_by_stored;
