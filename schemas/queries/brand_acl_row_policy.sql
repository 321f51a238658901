-- Brand viewer, step 2 of 3 (one per table or view the dashboards read): the viewer sees only its tenant's rows.
-- A row policy on a view and on the tables under it: the view is filtered whichever SQL SECURITY it has.
-- Created before the grant (step 3), so the viewer can never read a table without its policy.
-- Modern ClickHouse only (see brand_acl_create_user.sql); {policy}, {database}, {table}, {viewer} are identifiers
-- quoted by lrs/tools/brands.py; the tenant is a bound string.
-- params: {"tenant": "t"}
CREATE ROW POLICY OR REPLACE {policy} ON {database}.{table} AS PERMISSIVE FOR SELECT
    USING tenant = %(tenant)s TO {viewer}
