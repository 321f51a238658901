-- Brand viewer removal (`lrs brand remove-viewer`, lrs/tools/brands.py): the viewer's row policy on one table or view.
-- Modern ClickHouse only (see brand_acl_create_user.sql); identifiers quoted by lrs/tools/brands.py.
DROP ROW POLICY IF EXISTS {policy} ON {database}.{table}
