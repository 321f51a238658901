-- Lookup tables of GET /xapi/statements filters (issue 16): one narrow row per statement and filter value,
-- ordered by (tenant, kind, key, stored_us), so `?agent=`, `?verb=`, `?activity=`, `?registration=` read the
-- primary-key range of their value (and of a stored-time window: see statement_key_hours) instead of every
-- statement of the tenant. No JSON here: a page's JSON still comes from statements_by_stored.
-- kind: 1 agent (every related agent; direct = 1 for the actor or agent object, what `agent` alone matches),
--       2 verb, 3 activity (every related activity; direct = 1 for the object activity), 4 registration,
--       5 StatementRef target (key = the target id; for the StatementRef filter rule).
-- verb_id and client_key ride along so that `agent+verb` and statements/read/mine need no second lookup.
-- 1,024-row granules: a page reads a few short key ranges (the driving value, sub-filters, StatementRefs), each at
-- least one granule; with 8,192 rows a sparse agent's page read 65,536 rows (14 MB), with 1,024 about 5,000 (1 MB).
-- Filled by the view from every insert into `statements`; a redelivered or voided rewrite lands on the same
-- key and merges away (queries use LIMIT 1 BY until then). Voiding is read from statement_voids.
-- `agent` repeats the key of agent rows (else ''): the column by which the eraser finds and deletes the learner's
-- rows (erasure_tables, erase_by_agent). The verb/activity rows of erased statements name no one and are left:
-- their JSON is gone, so pages skip them.
CREATE TABLE IF NOT EXISTS statement_keys
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
ORDER BY (tenant, kind, key, stored_us, statement_id)
SETTINGS index_granularity = 1024;

-- The lambdas capture no column (ClickHouse 18.16 cannot): `direct` comes from each value's position, as
-- streams/rows.py lists the agents first in related_agents and the object activity first in related_activities.
CREATE MATERIALIZED VIEW IF NOT EXISTS statement_keys_mv TO statement_keys
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

-- Statements per hour of stored time and filter value (kind 0, key '': all of the tenant's statements), so a
-- page is first looked for in the narrowest stored-time window that can hold it (lrs/service/statements/page.py):
-- ClickHouse 18.16 cannot stop a key-ordered read early. Counts may run high (redelivered rows, voided and
-- erased statements): a window that turns out short is widened, so they only steer the first guess.
CREATE TABLE IF NOT EXISTS statement_key_hours
(
    tenant String,
    kind UInt8,
    key String,
    agent String,
    hour UInt32,
    statements UInt64
)
ENGINE = SummingMergeTree()
ORDER BY (tenant, kind, key, hour)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS statement_key_hours_mv TO statement_key_hours
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

-- Statements stored before this migration (a row also written by the views meanwhile is merged away, or
-- counted twice in the hours: see above).
INSERT INTO statement_keys (tenant, kind, key, agent, stored_us, statement_id, direct, verb_id, client_key)
SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent, stored_us,
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

INSERT INTO statement_key_hours (tenant, kind, key, agent, hour, statements)
SELECT tenant, tupleElement(k, 1) AS kind, tupleElement(k, 2) AS key, if(kind = 1, key, '') AS agent,
       toUInt32(intDiv(stored_us, 3600000000)) AS hour, count() AS statements
FROM statements
ARRAY JOIN arrayConcat(
    [(toUInt8(0), '')],
    arrayMap(a -> (toUInt8(1), a), related_agents),
    [(toUInt8(2), verb_id)],
    arrayMap(a -> (toUInt8(3), a), related_activities),
    arrayFilter(r -> tupleElement(r, 2) != '', [(toUInt8(4), registration)])) AS k
GROUP BY tenant, kind, key, agent, hour;
