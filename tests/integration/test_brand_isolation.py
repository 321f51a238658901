"""Brand isolation (issue 14, item 5): a brand's dashboard viewer reads its own tenant's rows and nothing else.

What each engine can prove here (docs/operations.md, "Brand isolation"):

- Modern ClickHouse (chDB 26.x, in-process): it runs row policies, but has no writable access storage, so
  ``CREATE USER``/``CREATE ROW POLICY``/``GRANT`` cannot be executed on it. The statements ``lrs brand
  add-viewer`` sends are parsed by its own parser (``formatQuery``), and their effect is reproduced exactly
  (the same tables, the same ``USING`` condition taken from the generated SQL, readonly, SELECT on those tables
  only) as the users.xml form of the same access entities for chDB's only user; a second chDB process, as that
  viewer, then runs every dashboard query and reads every table and view the dashboards read.
- ClickHouse 18.16 (the local server): it has no row policies (a users.xml filter is ignored there, measured in
  /work/shared/infra.md), so the command refuses it and creates nothing.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
A, B, NOBODY = "brand-a", "brand_b", "nobody"
LEARNER, COURSE = "mbox:mailto:a@example.com", "c1"
pytestmark = pytest.mark.integration


# ---------------------------------------------------------------------------------------------------------------
# What runs inside the chDB processes (python tests/integration/test_brand_isolation.py ROLE DATA_DIR [CONFIG])


def _escape(params: dict[str, Any]) -> dict[str, Any]:
    from clickhouse_driver.util.escape import escape_params

    from lrs.core.store.clickhouse import StringLiteral, bind

    class Context:  # what clickhouse-driver's escaping reads of a client
        server_info = None
        settings: dict[str, Any] = {}

    # StringLiteral (pre-escaped strings) renders with str(): JSON-safe for the chDB subprocess.
    return {k: str(v) if isinstance(v, StringLiteral) else v for k, v in escape_params(bind(params), Context()).items()}


def _literal(value: Any) -> str:
    return _escape({"v": value})["v"]


def _dashboard_params(tenant: str, now: int) -> dict[str, Any]:
    return {"tenant": tenant, "tenants": [tenant], "course": COURSE, "learner": LEARNER, "from_s": now - 30 * 86400,
            "to_s": now + 86400, "from_date": time.strftime("%Y-%m-%d", time.gmtime(now - 30 * 86400)),
            "to_date": time.strftime("%Y-%m-%d", time.gmtime(now + 86400)), "interval_s": 3600,
            "session_cap_s": 1800}


def _value(column: str, type_: str, tenant: str, now: int) -> str | None:
    """An SQL expression for one column of a generic row of ``tenant`` (None: leave the default)."""
    if column == "tenant":
        return _literal(tenant)
    if type_.startswith("AggregateFunction("):
        function, _, arg = type_[len("AggregateFunction("):-1].partition(", ")
        return f"arrayReduce('{function}State', [CAST({now * 1_000_000} AS {arg})])"
    if column.endswith("_us") and "Int" in type_:
        return str(now * 1_000_000)
    if type_.startswith("DateTime"):
        return f"toDateTime({now})"
    if type_.startswith("Date"):
        return f"toDate(toDateTime({now}))"
    fixed = {"course_id": COURSE, "actor_ifi": LEARNER, "module_id": "m1", "statement_id": f"s-{tenant}",
             "status": "at_risk", "course_name": f"Course of {tenant}"}
    if column in fixed and "String" in type_:
        return _literal(fixed[column])
    if column in ("version", "position") and "Int" in type_:
        return "1"
    if column in ("statements", "sessions", "learners_started", "learners_reached", "cohort_size") and "Int" in type_:
        return "3"
    if column in ("completed", "passed", "certified", "active_learners", "at_risk", "present") and "Int" in type_:
        return "1"
    if "Float" in type_:
        return "0.5"
    return None


def _run_queries(session: Any, tenants: list[str], now: int) -> dict[str, Any]:
    """Every dashboard query for each tenant (JSON rows), and per dashboard table: its tenants and row count."""
    from lrs.core.store.queries import query
    from lrs.tools.brands import dashboard_tables
    from lrs.tools.report.dashboards import panel_queries

    out: dict[str, Any] = {"queries": {}, "tables": {}, "errors": {}}
    for name in panel_queries():
        for tenant in tenants:
            sql = query(name).sql % _escape({k: v for k, v in _dashboard_params(tenant, now).items()
                                             if f"%({k})s" in query(name).sql})
            rows = json.loads(session.query(sql, "JSON").bytes() or b'{"data": []}')["data"]
            out["queries"][f"{name}/{tenant}"] = [{k: v for k, v in row.items() if k != "seconds_ago"}
                                                  for row in rows]
    for table in dashboard_tables():
        rows = session.query(f"SELECT tenant, count() FROM lrs.{table} GROUP BY tenant ORDER BY tenant", "JSONCompact")
        out["tables"][table] = json.loads(rows.bytes())["data"]
    probes = {"statements": "SELECT count() FROM lrs.statements", "credentials": "SELECT count() FROM lrs.credentials",
              "documents": "SELECT count() FROM lrs.documents",
              "insert": "INSERT INTO lrs.analytics_slices (tenant) VALUES ('probe')",  # after the counts
              "table_function": "SELECT count() FROM file('/etc/passwd', 'LineAsString')"}
    for probe, sql in probes.items():
        try:
            session.query(sql)
            out["errors"][probe] = None
        except Exception as exc:  # chDB raises RuntimeError with the server's message
            out["errors"][probe] = str(exc)[:300]
    return out


def _chdb_main(role: str, data_dir: str, config: str = "") -> None:
    import chdb.session

    now = int(time.time())
    if role == "admin":
        from lrs.core.store.queries import migrations
        from lrs.tools.brands import dashboard_tables, view_definitions

        session = chdb.session.Session(data_dir)
        session.query("CREATE DATABASE IF NOT EXISTS lrs")
        session.query("USE lrs")
        for migration in migrations():
            for statement in migration.statements:
                session.query(statement)
        views = set(view_definitions())
        for table in dashboard_tables():
            if table in views:
                continue
            columns = json.loads(session.query(
                f"SELECT name, type FROM system.columns WHERE database = 'lrs' AND table = '{table}' "
                "AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')", "JSONCompact").bytes())["data"]
            for tenant in (A, B):
                values = {c: v for c, t in columns if (v := _value(c, t, tenant, now)) is not None}
                session.query(f"INSERT INTO lrs.{table} ({', '.join(values)}) SELECT {', '.join(values.values())}")
        result = _run_queries(session, [A, B, NOBODY], now)
    else:
        session = chdb.session.Session(f"{data_dir}?config-file={config}")
        session.query("USE lrs")
        result = _run_queries(session, [A, B, NOBODY], now)
        result["user"] = session.query("SELECT currentUser(), getSetting('readonly')", "JSONCompact").bytes().decode()
    session.close()
    sys.stdout.write("RESULT " + json.dumps(result, default=str) + "\n")


# ---------------------------------------------------------------------------------------------------------------
# The tests


def _chdb(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, __file__, *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, f"chDB {args[0]} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT "))


def _users_xml(viewer: Any) -> str:
    """The users.xml form of what the viewer's SQL creates, for chDB's only user (``default``)."""
    conditions = {}
    for sql, params in viewer.statements():
        if sql.startswith("CREATE ROW POLICY"):
            table = re.search(r" ON `lrs`\.`(\w+)`", sql).group(1)
            conditions[table] = re.search(r"USING (.*) TO ", " ".join((sql % _escape(params)).split())).group(1)
    grants = [re.fullmatch(r"GRANT SELECT ON `lrs`\.`(\w+)` TO `brand_brand-a`", sql).group(1)
              for sql, _ in viewer.statements() if sql.startswith("GRANT")]
    assert sorted(conditions) == sorted(grants) == sorted(viewer.tables)

    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    filters = "".join(f"<{t}><filter>{escape(c)}</filter></{t}>" for t, c in conditions.items())
    grant_queries = "".join(f"<query>GRANT SELECT ON lrs.{t}</query>" for t in grants)
    return f"""<clickhouse>
  <profiles><default/><grafana_readonly><readonly>1</readonly></grafana_readonly></profiles>
  <quotas><default/></quotas>
  <users><default>
    <password/><profile>grafana_readonly</profile><quota>default</quota><networks><ip>::/0</ip></networks>
    <grants>{grant_queries}</grants>
    <databases><lrs>{filters}</lrs></databases>
  </default></users>
</clickhouse>
"""


@pytest.fixture(scope="module")
def chdb_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """(admin's view, brand A viewer's view, the viewer) of one chDB database holding rows of A and B."""
    pytest.importorskip("chdb")
    from lrs.tools.brands import new_viewer

    work = tmp_path_factory.mktemp("brand-chdb")
    data = work / "data"
    viewer = new_viewer(A, "lrs")
    (work / "users.xml").write_text(_users_xml(viewer), encoding="utf-8")
    (work / "config.xml").write_text(
        f"<clickhouse><user_directories><users_xml><path>{work / 'users.xml'}</path></users_xml>"
        "</user_directories></clickhouse>\n", encoding="utf-8")
    admin = _chdb("admin", str(data))
    brand = _chdb("viewer", str(data), str(work / "config.xml"))
    return admin, brand, viewer


def test_dashboard_tables_are_every_table_and_view_the_dashboards_read() -> None:
    from lrs.core.store.queries import query
    from lrs.tools.brands import dashboard_tables, view_definitions
    from lrs.tools.report.dashboards import panel_queries

    tables = dashboard_tables()
    # Spot checks of the parsing: a panel's table, a view and the table under it, an IN-subquery's table, and no
    # ARRAY JOIN column or system table.
    assert {"course_summary", "course_summary_data", "analytics_slices", "statement_voids",
            "statements_by_time", "tenant_last_stored"} <= set(tables)
    assert "ts" not in tables and "statements" not in tables and "credentials" not in tables
    views = view_definitions()
    for name in panel_queries():
        sql = query(name).sql
        for table in re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)", sql):
            if not re.search(rf"ARRAY\s+JOIN\s+{table}\b", sql):
                assert table in tables, (name, table)
    for view in set(tables) & set(views):  # and what the views read
        for table in re.findall(r"\b(?:FROM|JOIN)\s+([a-z_]+)", views[view]):
            assert table in tables, (view, table)


def test_names_are_validated_and_identifiers_quoted() -> None:
    from lrs.tools.brands import BadName, new_viewer, quote_identifier, render_acl, validate_tenant

    for bad in ("", "a'b", "a`b", "a b", "a.b", "a\\b", "-a", "a;DROP USER x", "é", "a" * 49, "a\nb"):
        with pytest.raises(BadName):
            validate_tenant(bad)
    assert quote_identifier("a`b\\c") == "`a\\`b\\\\c`"
    with pytest.raises(ValueError):
        render_acl("brand_acl_grant_select", viewer="brand_a", database="lrs", table="x` ON *.* TO `y")
    with pytest.raises(ValueError):  # every placeholder, no more, no less
        render_acl("brand_acl_grant_select", viewer="brand_a", database="lrs")
    with pytest.raises(BadName):
        new_viewer("a", "lrs`x")
    statements = new_viewer("a-b_1", "lrs").statements()
    assert statements[0][0].startswith("CREATE USER OR REPLACE `brand_a-b_1` IDENTIFIED WITH sha256_hash BY "
                                       "%(password_sha256)s")
    kinds = [sql.split(" ")[1] if sql.startswith("CREATE") else "GRANT" for sql, _ in statements]
    # user first, then every policy, then every grant: no moment where a granted table lacks its policy
    half = (len(statements) - 1) // 2
    assert kinds == ["USER"] + ["ROW"] * half + ["GRANT"] * half


def _printed_sql(command: str) -> list[str]:
    """The statements ``lrs brand COMMAND --tenant A --print-sql`` prints (it connects to nothing)."""
    done = subprocess.run([sys.executable, "-m", "lrs", "brand", command, "--tenant", A, "--print-sql"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    return [s.strip() for s in done.stdout.split(";\n") if s.strip()]


def test_viewer_statements_parse_on_modern_clickhouse(tmp_path: Path) -> None:
    """chDB's parser accepts every statement the commands send, with the names quoted and the tenant a string."""
    pytest.importorskip("chdb")
    from lrs.tools.brands import dashboard_tables

    added, dropped = _printed_sql("add-viewer"), _printed_sql("remove-viewer")
    tables = len(dashboard_tables())
    assert len(added) == 1 + 2 * tables and len(dropped) == tables + 1
    statements = added + dropped
    script = ("import chdb, json, sys\n"
              "out = [chdb.query('SELECT formatQuery(' + s + ')', 'JSONCompact').bytes().decode() "
              "for s in json.loads(sys.stdin.read())]\n"
              "print('RESULT ' + json.dumps(out))\n")
    literals = [_literal(sql) for sql in statements]
    done = subprocess.run([sys.executable, "-c", script], input=json.dumps(literals), capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    formatted = [json.loads(r)["data"][0][0] for r in json.loads(done.stdout.split("RESULT ", 1)[1])]
    assert formatted[0].startswith("CREATE USER OR REPLACE `brand_brand-a` IDENTIFIED WITH sha256_hash BY '")
    assert re.search(r"DEFAULT DATABASE lrs SETTINGS PROFILE [`']grafana_readonly[`']$", formatted[0]), formatted[0]
    policies = [f for f in formatted if f.startswith("CREATE ROW POLICY")]
    assert policies and all(f.endswith(f"FOR SELECT USING tenant = '{A}' TO `brand_brand-a`") for f in policies)
    assert all(re.fullmatch(r"GRANT SELECT ON lrs\.\w+ TO `brand_brand-a`", f)
               for f in formatted if f.startswith("GRANT"))
    assert all(re.fullmatch(r"DROP ROW POLICY IF EXISTS `brand_brand-a` ON lrs\.\w+", f)
               for f in formatted[len(added):-1]), formatted[len(added):]
    assert formatted[-1] == "DROP USER IF EXISTS `brand_brand-a`"


def test_brand_viewer_reads_only_its_tenant_on_modern_clickhouse(chdb_runs) -> None:
    admin, brand, viewer = chdb_runs
    assert str(json.loads(brand["user"])["data"][0][1]) == "1", "the viewer is readonly"
    # Every table and view the dashboards read: the admin sees both brands, the viewer only its own.
    for table in viewer.tables:
        assert [t for t, _ in admin["tables"][table]] == [A, B], (table, admin["tables"][table])
        assert brand["tables"][table] == [[A, admin["tables"][table][0][1]]], (table, brand["tables"][table])
    checked, vacuous = 0, []
    for key, rows in admin["queries"].items():
        name, tenant = key.rsplit("/", 1)
        if tenant != B:
            continue
        nobody = admin["queries"][f"{name}/{NOBODY}"]
        if name == "dashboard_var_tenants":  # the dropdown: the viewer's lists its own tenant only
            assert [r["tenant"] for r in rows] == [A, B] and brand["queries"][key] == [{"tenant": A}]
            continue
        # Not vacuous: the admin sees brand B's rows through this query ...
        if rows == nobody:
            vacuous.append(name)
        # ... brand A's viewer asking for brand B gets what an empty tenant gives ...
        assert brand["queries"][key] == nobody, f"{name}: brand A's viewer reads brand B: {brand['queries'][key]}"
        # ... and its own dashboards are unchanged.
        assert brand["queries"][f"{name}/{A}"] == admin["queries"][f"{name}/{A}"], name
        checked += 1
    assert not vacuous, f"the test data does not reach these queries: {vacuous}"
    assert checked == len(admin["queries"]) // 3 - 1
    for probe in ("statements", "credentials", "documents"):
        assert "ACCESS_DENIED" in (brand["errors"][probe] or ""), (probe, brand["errors"][probe])
        assert admin["errors"][probe] is None
    for probe in ("insert", "table_function"):  # no writes; no files or URLs through table functions
        assert re.search(r"ACCESS_DENIED|READONLY", brand["errors"][probe] or ""), (probe, brand["errors"][probe])
    assert admin["errors"]["table_function"] is None


def test_add_viewer_refuses_a_server_without_row_policies(tmp_path: Path) -> None:
    """On ClickHouse 18.16 the command stops before creating anything and says why."""
    from lrs.core.store.migrate import migrate_clickhouse
    from lrs.tools.stack.stack import LocalStack
    from tests.support import make_settings, settings_env

    settings = make_settings(tmp_path / "state")
    stack = LocalStack(settings)
    out = tmp_path / "out"
    out.mkdir()
    try:
        stack.start_service("clickhouse")  # only ClickHouse: the command needs nothing else
        migrate_clickhouse(settings)
        done = subprocess.run([sys.executable, "-m", "lrs", "brand", "add-viewer", "--tenant", "acme",
                               "--grafana-org", "2", "--provisioning-dir", str(out), "--env-file",
                               str(out / "brands.env")], env={**os.environ, **settings_env(settings)}, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    finally:
        stack.down()
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "has no row policies" in done.stderr and "18.16" in done.stderr, done.stderr
    assert list(out.iterdir()) == []
    assert "password" not in done.stdout


def test_add_viewer_writes_the_brand_organisation_provisioning(tmp_path: Path) -> None:
    """The Grafana files: the brand's org, the viewer as user, the password only in the 0600 env file."""
    import yaml

    from lrs.tools.brands import BRAND_DASHBOARDS_PATH, new_viewer, password_variable, remove_grafana, write_grafana

    provisioning = tmp_path / "provisioning"
    (provisioning / "datasources").mkdir(parents=True)
    (provisioning / "dashboards").mkdir()
    operator = ROOT / "dashboards" / "provisioning" / "datasources" / "clickhouse.yaml"
    (provisioning / "datasources" / "clickhouse.yaml").write_text(operator.read_text(encoding="utf-8"))
    env_file = tmp_path / "secrets" / "brands.env"
    env_file.parent.mkdir()
    env_file.write_text("OTHER=1\n")
    viewer = new_viewer(A, "lrs")
    write_grafana(viewer, 3, provisioning, env_file)
    write_grafana(new_viewer(A, "lrs"), 3, provisioning, env_file)  # a re-run replaces the password line
    source = yaml.safe_load((provisioning / "datasources" / f"brand-{A}.yaml").read_text())["datasources"][0]
    assert source["orgId"] == 3 and source["uid"] == "clickhouse" and source["type"] == "grafana-clickhouse-datasource"
    assert source["jsonData"]["username"] == "brand_brand-a" and source["jsonData"]["host"] == "clickhouse"
    assert source["secureJsonData"]["password"] == "${" + password_variable(A) + "}"
    provider = yaml.safe_load((provisioning / "dashboards" / f"brand-{A}.yaml").read_text())["providers"][0]
    assert provider["orgId"] == 3 and provider["options"]["path"] == BRAND_DASHBOARDS_PATH
    lines = env_file.read_text().splitlines()
    assert lines[0] == "OTHER=1" and len(lines) == 2 and lines[1].startswith(password_variable(A) + "=")
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    assert viewer.password not in "".join(p.read_text() for p in provisioning.rglob("brand-*.yaml"))
    remove_grafana(A, provisioning, env_file)  # `lrs brand remove-viewer` after the DROPs
    assert env_file.read_text() == "OTHER=1\n" and not list(provisioning.rglob("brand-*.yaml"))
    compose = (ROOT / "docker-compose.yml").read_text()
    for name in ("brand_overview.json", "course.json", "learner.json"):  # the brand org's dashboards, mounted
        assert f"./dashboards/json/{name}:{BRAND_DASHBOARDS_PATH}/{name}:ro" in compose
    assert f"{BRAND_DASHBOARDS_PATH}/operator.json" not in compose


if __name__ == "__main__":
    _chdb_main(*sys.argv[1:])
