-- The two key-index views (statement_keys_by_month, statement_key_hours_by_month) read narrow rows, not the
-- inserted block of `statements`. Their ARRAY JOIN copies every column of the block it runs on once per key
-- (about 6 keys per statement), and in a materialized view ClickHouse 18.16 runs it on the whole inserted block,
-- the statement JSON included: measured on 18.16 with 20,000-row inserts (docs/benchmarks.md, "the key views
-- without the JSON"), the two views cost 15.6 of the insert's 27 microseconds of CPU per row, and fed from rows
-- without the JSON the whole insert costs 20.
--
-- `statement_key_source_mv` copies the columns the key views use into `statement_key_source`, a Null table (it
-- keeps nothing). Each key view is defined twice, because the two engines pass an insert on to the views of a
-- view differently: ClickHouse 18.16 fires the views that select FROM the view `statement_key_source_mv`; current
-- ClickHouse (chDB, 20.x and later) fires those that select FROM its TO table `statement_key_source`, and never
-- the others. So on each engine exactly one of the pair fires; tests/integration/test_sql_engines.py checks that
-- an inserted statement gets each key row once on both. The old views are dropped last: while both are in place
-- an insert writes its key rows twice, which the ReplacingMergeTree merges away (and adds to an hour's count,
-- which is an estimate for picking a read window, for the seconds the migration runs).
CREATE TABLE IF NOT EXISTS statement_key_source
(
    tenant String,
    stored_us Int64,
    statement_id String,
    agents Array(String),
    related_agents Array(String),
    verb_id String,
    related_activities Array(String),
    registration String,
    object_type String,
    object_id String,
    client_key String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_key_source_mv TO statement_key_source
AS SELECT tenant, stored_us, statement_id, agents, related_agents, verb_id, related_activities, registration,
          object_type, object_id, client_key
FROM statements;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_keys_via_table_mv TO statement_keys_by_month
AS SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent, stored_us,
       statement_id,
       toUInt8(multiIf(kind = 1, tupleElement(k, 3) <= length(agents),
                       kind = 3, tupleElement(k, 3) = 1 AND object_type = 'Activity', 1)) AS direct, verb_id, client_key
FROM statement_key_source
ARRAY JOIN arrayConcat(
    arrayMap((a, i) -> (toUInt8(1), a, i), related_agents, arrayEnumerate(related_agents)),
    [(toUInt8(2), verb_id, toUInt32(1))],
    arrayMap((a, i) -> (toUInt8(3), a, i), related_activities, arrayEnumerate(related_activities)),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration, toUInt32(1))]),
    arrayFilter(r -> tupleElement(r, 2) != '',
                [(toUInt8(5), if(object_type = 'StatementRef', object_id, ''), toUInt32(1))])) AS k;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_keys_via_view_mv TO statement_keys_by_month
AS SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent, stored_us,
       statement_id,
       toUInt8(multiIf(kind = 1, tupleElement(k, 3) <= length(agents),
                       kind = 3, tupleElement(k, 3) = 1 AND object_type = 'Activity', 1)) AS direct, verb_id, client_key
FROM statement_key_source_mv
ARRAY JOIN arrayConcat(
    arrayMap((a, i) -> (toUInt8(1), a, i), related_agents, arrayEnumerate(related_agents)),
    [(toUInt8(2), verb_id, toUInt32(1))],
    arrayMap((a, i) -> (toUInt8(3), a, i), related_activities, arrayEnumerate(related_activities)),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration, toUInt32(1))]),
    arrayFilter(r -> tupleElement(r, 2) != '',
                [(toUInt8(5), if(object_type = 'StatementRef', object_id, ''), toUInt32(1))])) AS k;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_key_hours_via_table_mv TO statement_key_hours_by_month
AS SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent,
       toUInt32(intDiv(stored_us, 3600000000)) AS hour, count() AS statements
FROM statement_key_source
ARRAY JOIN arrayConcat(
    [(toUInt8(0), '')],
    arrayMap(a -> (toUInt8(1), a), related_agents),
    [(toUInt8(2), verb_id)],
    arrayMap(a -> (toUInt8(3), a), related_activities),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration)])) AS k
GROUP BY tenant, kind, key, agent, hour;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_key_hours_via_view_mv TO statement_key_hours_by_month
AS SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent,
       toUInt32(intDiv(stored_us, 3600000000)) AS hour, count() AS statements
FROM statement_key_source_mv
ARRAY JOIN arrayConcat(
    [(toUInt8(0), '')],
    arrayMap(a -> (toUInt8(1), a), related_agents),
    [(toUInt8(2), verb_id)],
    arrayMap(a -> (toUInt8(3), a), related_activities),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration)])) AS k
GROUP BY tenant, kind, key, agent, hour;

DROP TABLE IF EXISTS statement_keys_by_month_mv;
DROP TABLE IF EXISTS statement_key_hours_by_month_mv;
