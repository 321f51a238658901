-- Brand viewer, step 3 of 3 (one per table or view the dashboards read, after its row policy): SELECT on it, and on
-- nothing else of the database (no credentials, documents or raw statements beyond the dashboards' tables).
-- Modern ClickHouse only (see brand_acl_create_user.sql); identifiers quoted by lrs/tools/brands.py.
GRANT SELECT ON {database}.{table} TO {viewer}
