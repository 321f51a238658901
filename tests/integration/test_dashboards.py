"""Every dashboard panel's SQL, with Grafana's variables and the plugin's macros expanded for a sample time range,
runs on the ClickHouse 18.16 server and on chDB against a demo cohort sent through the real pipeline, returns the
columns its panel shows, has rows, and shows nothing of another tenant."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from clickhouse_driver.util.escape import escape_param, escape_params

from lrs.core.store.clickhouse import ClickHouse
from lrs.core.store.queries import migrations, query
from lrs.service.auth.credentials import CredentialStore
from lrs.tools.demo.analytics import wait_fresh
from lrs.tools.demo.cohort import Cohort, course_structure, generate_cohort
from lrs.tools.report.dashboards import DASHBOARDS, VARIABLE_QUERIES, Dashboard, Panel
from lrs.tools.report.grafana import expand_grafana, to_grafana
from streams.refresh import ALL_TABLES
from tests.support import Pipeline, wait_until

pytestmark = pytest.mark.integration

# The raw rows, the structures, the published versions and every analytics data table behind the views.
COPIED_TABLES = ("statements", "course_structure", "analytics_slices", *(t.table for t in ALL_TABLES))


@dataclass
class Loaded:
    """A demo cohort stored and analysed for one tenant."""

    tenant: str
    cohort: Cohort
    start: dt.datetime
    end: dt.datetime


def load_cohort(pipeline: Pipeline, brand: str, *, learners: int = 80, seed: int = 11) -> Loaded:
    """Send a generated cohort (with its course structure) through the LRS; wait for fresh analytics."""
    settings = pipeline.settings
    tenant = f"{brand}{uuid.uuid4().hex[:6]}"
    clickhouse = ClickHouse(settings, size=1)
    key, secret = CredentialStore(settings, clickhouse).create(tenant, scopes=("all",))
    start = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
    cohort = generate_cohort(brand=brand, learners=learners, courses=3, days=42, seed=seed, start=start)
    with httpx.Client(base_url=pipeline.base_url, auth=(key, secret), timeout=60,
                      headers={"X-Experience-API-Version": "1.0.3"}) as http:
        assert http.put("/api/courses/structure", json=course_structure(cohort)).status_code == 200
        for i in range(0, len(cohort.statements), 500):
            for attempt in range(10):
                response = http.post("/xapi/statements", json=cohort.statements[i:i + 500])
                if response.status_code == 200:
                    break
                assert response.status_code == 503 and attempt < 9, response.text
                time.sleep(1)
    wait_until(lambda: pipeline.stored_count(tenant) >= len(cohort.statements), 120, what="statements stored")
    wait_fresh(settings, clickhouse, tenant, timeout=180)
    clickhouse.close()
    return Loaded(tenant, cohort, start - dt.timedelta(days=1), start + dt.timedelta(days=43))


@pytest.fixture(scope="module")
def loaded(pipeline: Pipeline) -> Loaded:
    return load_cohort(pipeline, "dash")


@pytest.fixture(scope="module")
def other(pipeline: Pipeline) -> Loaded:
    """A second tenant, so that a missing tenant filter would show up."""
    return load_cohort(pipeline, "other", learners=30, seed=12)


@pytest.fixture(scope="module")
def variables(pipeline: Pipeline, loaded: Loaded) -> dict[str, Any]:
    """Sample values of every dashboard variable: the biggest course, a learner in two or more courses."""
    client = pipeline.clickhouse()
    try:
        course = client.execute("SELECT course_id FROM course_summary WHERE tenant = %(t)s "
                                "ORDER BY learners_started DESC, course_id LIMIT 1", {"t": loaded.tenant})[0][0]
        learner = client.execute("SELECT actor_ifi FROM learner_course WHERE tenant = %(t)s GROUP BY actor_ifi "
                                 "ORDER BY count() DESC, sum(statements) DESC, actor_ifi LIMIT 1",
                                 {"t": loaded.tenant})[0][0]
    finally:
        client.disconnect()
    return {"tenant": loaded.tenant, "course": course, "learner": learner, "session_cap_s": "1800"}


def _expanded(sql: str, loaded: Loaded, variables: dict[str, Any], dashboard: Dashboard,
              tenant: str | None = None) -> str:
    values = dict(variables)
    if tenant is not None:
        values["tenant"] = tenant
    if dashboard.multi_tenant:
        values["tenant"] = [values["tenant"]]
    return expand_grafana(sql, start=loaded.start, end=loaded.end, interval_s=3600, variables=values)


def _panels() -> list[tuple[Dashboard, Panel]]:
    return [(d, p) for d in DASHBOARDS for p in d.panels if p.query]


def _expected_columns(panel: Panel) -> set[str]:
    wanted = set(panel.units) | set(panel.hide) | ({panel.x_field} if panel.x_field else set())
    if panel.kind == "timeseries":
        wanted.add("time")
    return wanted


def _literal(value: Any, ctx: Any) -> str:
    """A SQL literal of a value read from the 18.16 server (its DateTimes are naive UTC)."""
    if isinstance(value, dt.datetime):
        return f"'{value:%Y-%m-%d %H:%M:%S}'"
    return str(escape_param(value, ctx))


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def test_every_panel_runs_on_clickhouse_18_with_rows_and_expected_columns(
        pipeline: Pipeline, loaded: Loaded, other: Loaded, variables: dict[str, Any]) -> None:
    """As Grafana's read-only `grafana` user (readonly profile), like the provisioned data source."""
    from clickhouse_driver import Client

    url = pipeline.settings.clickhouse_url
    assert "://default:" in url
    client = Client.from_url(url.replace("://default:", "://grafana:", 1))
    assert client.execute("SELECT value FROM system.settings WHERE name = 'readonly'")[0][0] == "1"
    try:
        for dashboard, panel in _panels():
            sql = _expanded(to_grafana(query(panel.query).sql), loaded, variables, dashboard)
            rows, types = client.execute(sql, with_column_types=True)
            columns = [name for name, _ in types]
            where = f"{dashboard.title} / {panel.title}"
            assert _expected_columns(panel) <= set(columns), (where, columns)
            assert rows, f"{where}: no rows for the demo cohort"
            numbers = [v for row in rows for v in row if _numeric(v)]
            assert any(v for v in numbers if not math.isnan(v)), f"{where}: only zeros"
            if panel.kind == "timeseries":
                assert types[0][1].startswith("DateTime"), (where, types[0])
                assert all(loaded.start.replace(tzinfo=None) <= r[0].replace(tzinfo=None) <= loaded.end.replace(
                    tzinfo=None) for r in rows), f"{where}: rows outside the time range"
            if panel.kind in ("stat", "bargauge"):
                assert all(t.startswith(("UInt", "Int", "Float")) for _, t in types), (where, types)
        for dashboard in DASHBOARDS:
            for name in dashboard.variables:
                if name in VARIABLE_QUERIES:
                    rows = client.execute(_expanded(to_grafana(query(VARIABLE_QUERIES[name]).sql), loaded,
                                                    variables, dashboard))
                    assert rows, name
        tenants = [r[0] for r in client.execute(to_grafana(query("dashboard_var_tenants").sql))]
        assert {loaded.tenant, other.tenant} <= set(tenants)
    finally:
        client.disconnect()


def test_no_panel_shows_another_tenants_data(pipeline: Pipeline, loaded: Loaded, other: Loaded,
                                            variables: dict[str, Any]) -> None:
    """With a tenant that has no data, every count is zero: nothing leaks from the two loaded tenants."""
    client = pipeline.clickhouse()
    try:
        for dashboard, panel in _panels():
            sql = _expanded(to_grafana(query(panel.query).sql), loaded, variables, dashboard, tenant="nobody")
            for row in client.execute(sql):
                assert not [v for v in row if _numeric(v) and v and not math.isnan(v)], (panel.title, row)
    finally:
        client.disconnect()


@pytest.fixture(scope="module")
def chdb_copy(pipeline: Pipeline, loaded: Loaded, other: Loaded, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Any]:
    """chDB with our migrations and the two tenants' rows copied from the 18.16 server, as the sink wrote them."""
    chdb_session = pytest.importorskip("chdb.session")
    session = chdb_session.Session(str(Path(tmp_path_factory.mktemp("chdb-dash"))))
    session.query("CREATE DATABASE IF NOT EXISTS lrs")
    session.query("USE lrs")
    for migration in migrations():
        for statement in migration.statements:
            session.query(statement)

    class Ctx:
        server_info = None
        settings: dict = {}

    client = pipeline.clickhouse()
    try:
        for table in COPIED_TABLES:
            rows, types = client.execute(f"SELECT * FROM {table} WHERE tenant IN %(t)s",
                                         {"t": (loaded.tenant, other.tenant)}, with_column_types=True)
            names = ", ".join(n for n, _ in types)
            for i in range(0, len(rows), 500):
                values = ", ".join("(" + ", ".join(_literal(v, Ctx()) for v in row) + ")"
                                   for row in rows[i:i + 500])
                session.query(f"INSERT INTO {table} ({names}) VALUES {values}")
    finally:
        client.disconnect()
    yield session
    session.close()


def test_every_panel_runs_on_chdb_like_on_clickhouse_18(pipeline: Pipeline, chdb_copy: Any, loaded: Loaded,
                                                       variables: dict[str, Any]) -> None:
    client = pipeline.clickhouse()
    try:
        for dashboard, panel in _panels():
            sql = _expanded(to_grafana(query(panel.query).sql), loaded, variables, dashboard)
            result = json.loads(chdb_copy.query(sql, "JSONCompact").bytes())
            rows, types = client.execute(sql, with_column_types=True)
            where = f"{dashboard.title} / {panel.title}"
            assert [m["name"] for m in result["meta"]] == [n for n, _ in types], where
            if "now()" not in sql:  # the operator's "seconds ago" moves between the two runs
                assert len(result["data"]) == len(rows) > 0, where
                numbers_chdb = sorted(round(float(v), 6) for row in result["data"] for v in row
                                      if isinstance(v, int | float) or (isinstance(v, str) and v.isdigit()))
                numbers_18 = sorted(round(float(v), 6) for row in rows for v in row if _numeric(v))
                assert numbers_chdb == numbers_18, f"{where}: different numbers on chDB"
    finally:
        client.disconnect()


# What the "Learners of the course" panel must return (its query only avoids merging every learner's versions).
_LEARNERS_BY_FINAL = """SELECT actor_ifi AS learner, status, first_seen, last_seen, furthest_position, statements,
       sessions, time_on_task_s, completed, passed, certified
FROM learner_course_rows FINAL
WHERE tenant = %(tenant)s AND course_id = %(course)s AND present = 1
ORDER BY last_seen DESC, learner
LIMIT 500"""


def _learner_rows_inserts(table: str) -> list[str]:
    """Versions of 8,000 learners of course `big` and 300 of `small` (same names in another course and tenant), one
    part per insert: random small versions (equal versions with different rows in different parts), last_seen in
    whole minutes (ties) that older versions often exceed (version 0: later than any newer row), present = 0 rows,
    and a redelivered part."""
    def insert(r: int, where: str = "sipHash64(n, r) % 3 != 0", version: str = "sipHash64(n, r, 11) % 4 + 1",
               later_s: int = 0) -> str:
        return f"""INSERT INTO {table} (tenant, course_id, actor_ifi, first_seen, last_seen, first_seen_us,
    last_seen_us, cohort_week, statements, sessions, time_on_task_s, furthest_module, furthest_position, status,
    completed, passed, certified, present, version)
SELECT tenant, course, concat('mbox:mailto:l', toString(intDiv(n, 3)), '@example.com'), toDateTime(fs), toDateTime(ls),
       toInt64(fs) * 1000000, toInt64(ls) * 1000000, toDate(toDateTime(fs)), sipHash64(n, r, 1) % 90,
       sipHash64(n, r, 2) % 9, toFloat64(sipHash64(n, r, 3) % 5000), concat('m', toString(sipHash64(n, r, 4) % 7)),
       toUInt32(sipHash64(n, r, 5) % 7), ['started', 'at_risk', 'dropped', 'completed'][sipHash64(n, r, 6) % 4 + 1],
       toUInt8(sipHash64(n, r, 7) % 4 = 0), toUInt8(sipHash64(n, r, 8) % 5 = 0), toUInt8(sipHash64(n, r, 9) % 7 = 0),
       toUInt8(sipHash64(n, r, 10) % 5 != 0), {version}
FROM (
    SELECT number AS n, {r} AS r, ['big', 'small', 'other'][number % 3 + 1] AS course,
           if(number % 17 = 0, 'b', 'a') AS tenant, 1788220800 + sipHash64(number) % 1000 * 60 AS fs,
           fs + {later_s} + intDiv(sipHash64(number, {r}, 12) % 400000, 60) * 60 AS ls
    FROM numbers(24000)
)
WHERE (course != 'small' OR n < 900) AND {where}"""
    return ([insert(9, "n % 4 != 0", "toUInt64(0)", 500000)] + [insert(r) for r in range(5)]
            + [insert(4, "sipHash64(n, r) % 3 != 0 AND n % 5 = 0")])


def test_course_learners_panel_is_its_final_query_on_adversarial_rows(pipeline: Pipeline, chdb_copy: Any) -> None:
    """The panel's two-step query returns exactly what FINAL over the whole course returns, on 18.16 and chDB."""
    database = f"panel_{uuid.uuid4().hex[:8]}"
    table = f"{database}.learner_course_rows"
    ddl = next(s for m in migrations() for s in m.statements
               if s.startswith("CREATE TABLE IF NOT EXISTS learner_course_rows"))
    ddl = ddl.replace("learner_course_rows", table, 1)
    panel = query("dashboard_course_learners").sql.replace("learner_course_rows", table)
    reference = _LEARNERS_BY_FINAL.replace("learner_course_rows", table)
    sample = (f"SELECT count() FROM {table} FINAL PREWHERE modulo(cityHash64(actor_ifi), 8) = 0 "
              "WHERE tenant = 'a' AND course_id = %(course)s AND present = 1")
    cases = [{"tenant": t, "course": c} for t in ("a", "b") for c in ("big", "small", "none")]

    class Ctx:
        server_info = None
        settings: dict = {}

    client = pipeline.clickhouse()
    try:
        for run in (client.execute, chdb_copy.query):
            run(f"CREATE DATABASE {database}")
            run(ddl)
            run(f"SYSTEM STOP MERGES {table}")  # keep every version and duplicate apart, as before a merge
        for statement in _learner_rows_inserts(table):
            client.execute(statement)
            chdb_copy.query(statement)
        # `big` takes the threshold path (500 present learners in the sample), `small` the every-learner one.
        assert client.execute(sample, {"course": "big"})[0][0] >= 500
        assert client.execute(sample, {"course": "small"})[0][0] < 500
        for params in cases:
            expected = client.execute(reference, params)
            assert client.execute(panel, params) == expected, params
            if params["tenant"] == "a" and params["course"] != "none":
                assert len(expected) == 500 if params["course"] == "big" else 100 < len(expected) < 500, params
            on_chdb = [json.loads(chdb_copy.query(sql % escape_params(params, Ctx()), "JSONCompact").bytes())["data"]
                       for sql in (reference, panel)]
            assert on_chdb[0] == on_chdb[1], params
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {database}")
        client.disconnect()
        chdb_copy.query(f"DROP DATABASE IF EXISTS {database}")
