-- Brand viewer (`lrs brand add-viewer`): which of the tables and views a brand's dashboards read have a `tenant`
-- column (a row policy `tenant = ...` needs one; the command refuses if one lacks it, or is missing).
-- params: {"database": "lrs", "tables": ["statements", "analytics_slices"]}
SELECT table
FROM system.columns
WHERE database = %(database)s AND name = 'tenant' AND table IN %(tables)s
ORDER BY table
