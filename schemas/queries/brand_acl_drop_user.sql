-- Brand viewer removal (`lrs brand remove-viewer`), after its row policies: the user, with its grants.
-- Modern ClickHouse only (see brand_acl_create_user.sql); the identifier is quoted by lrs/tools/brands.py.
DROP USER IF EXISTS {viewer}
