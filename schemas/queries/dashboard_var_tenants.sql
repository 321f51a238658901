-- Dashboard variable `tenant` (every dashboard): the tenants that have analytics. The only dashboard query
-- without a tenant filter: it lists them.
-- params: {}
SELECT DISTINCT tenant
FROM analytics_slices
ORDER BY tenant
