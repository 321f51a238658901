-- When each tenant's latest statement was stored: one row per tenant and insert block, merged to one per
-- tenant, so the Operator panel "Last statement received per tenant" reads a handful of rows instead of
-- scanning the stored_us of every statement of the tenant (300 ms and more at 10M statements).
-- Filled by the view from every insert into `statements`; erasures leave it alone (it names no learner).
CREATE TABLE IF NOT EXISTS tenant_last_stored
(
    tenant String,
    last_stored_us AggregateFunction(max, Int64)
)
ENGINE = AggregatingMergeTree()
ORDER BY tenant;

CREATE MATERIALIZED VIEW IF NOT EXISTS tenant_last_stored_mv TO tenant_last_stored
AS SELECT tenant, maxState(stored_us) AS last_stored_us
FROM statements
GROUP BY tenant;

-- Statements stored before this migration.
INSERT INTO tenant_last_stored
SELECT tenant, maxState(stored_us) AS last_stored_us
FROM statements
GROUP BY tenant;
