-- Brand viewer (`lrs brand add-viewer`, lrs/tools/brands.py), step 1 of 3: (re)create one brand's read-only
-- dashboard user, without grants. OR REPLACE drops any grant of an earlier run, so a re-run also rotates the
-- password and removes access to tables the dashboards no longer read.
-- Modern ClickHouse only (SQL access management): 18.16 has no CREATE USER, chDB has no writable access
-- storage; test_sql_engines skips brand_acl_* (tests/integration/test_brand_isolation.py covers them).
-- {viewer} and {database} are identifiers, which cannot be bound parameters: brands.py validates the tenant
-- against a strict pattern and backquotes them. Only the SHA-256 of the password is sent.
-- params: {"password_sha256": "0000000000000000000000000000000000000000000000000000000000000000", "profile": "grafana_readonly"}
CREATE USER OR REPLACE {viewer} IDENTIFIED WITH sha256_hash BY %(password_sha256)s
    DEFAULT DATABASE {database} SETTINGS PROFILE %(profile)s
