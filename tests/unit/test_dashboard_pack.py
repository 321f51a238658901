"""The Grafana pack (dashboards/json) is what Grafana needs, is generated from the query files, and never runs a
ClickHouse query without the tenant filter. (Named apart from tests/integration/test_dashboards.py: pytest
imports both test folders as top-level modules, so basenames must differ.)"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import yaml
from clickhouse_driver.util.escape import escape_params

from lrs.core.store.clickhouse import bind
from lrs.core.store.queries import all_queries, query
from lrs.tools.report import html as report_html
from lrs.tools.report.dashboards import DASHBOARDS, JSON_DIR, VARIABLE_QUERIES, panel_queries, render_all
from lrs.tools.report.grafana import QueryScheme, expand_grafana, time_params, to_grafana

ROOT = Path(__file__).resolve().parents[2]
START = dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
END = dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=dt.UTC)
VARIABLES = {"tenant": "acme", "course": "https://acme.example/courses/brand-onboarding",
             "learner": "mbox:mailto:learner00001@acme.example", "session_cap_s": "1800"}
# Tables (and views) keyed by tenant that dashboard queries read.
TENANT_TABLES = {"statements", "statements_by_time", "statements_by_learner", "statements_by_stored_month",
                 "tenant_last_stored", "statement_voids", "course_structure", "analytics_slices", "engagement_daily",
                 "engagement_hourly",
                 "learner_course", "learner_course_rows", "course_funnel", "course_summary", "cohort_retention",
                 "at_risk_learners", "course_time_on_task"}


def _files() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(JSON_DIR.glob("*.json"))}


def _clickhouse_targets() -> list[tuple[str, dict, dict]]:
    """(file, panel, target) for every ClickHouse target."""
    return [(name, panel, target) for name, doc in _files().items() for panel in doc["panels"]
            for target in panel["targets"] if target["datasource"]["type"] == "grafana-clickhouse-datasource"]


def _panel_query(panel: dict) -> str:
    match = re.search(r"schemas/queries/(dashboard_\w+)\.sql", panel["description"])
    assert match, f"panel {panel['title']!r} does not name its query file"
    return match.group(1)


def _render(sql: str, params: dict) -> str:
    class Ctx:
        server_info = None
        settings: dict = {}

    return sql % escape_params(bind(params), Ctx()) if params else sql


def test_committed_json_is_what_the_generator_writes() -> None:
    expected = render_all()
    assert sorted(expected) == sorted(p.name for p in JSON_DIR.glob("*.json")), "stray or missing dashboard files"
    for name, text in expected.items():
        assert (JSON_DIR / name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python -m lrs.tools.report.dashboards")


def test_every_dashboard_has_what_grafana_needs() -> None:
    sources = {}
    for path in (ROOT / "dashboards" / "provisioning" / "datasources").glob("*.yaml"):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["datasources"]:
            sources[source["uid"]] = source["type"]
    uids = set()
    for name, doc in _files().items():
        assert doc["uid"] and doc["uid"] not in uids and len(doc["uid"]) <= 40, name
        uids.add(doc["uid"])
        assert doc["title"] and isinstance(doc["schemaVersion"], int) and doc["time"]["from"], name
        variables = {v["name"]: v for v in doc["templating"]["list"]}
        assert "tenant" in variables, f"{name} has no tenant variable"
        for variable in variables.values():
            if variable["type"] == "query":
                assert sources.get(variable["datasource"]["uid"]) == variable["datasource"]["type"]
                assert variable["query"].strip()
        ids, cells = set(), set()
        for panel in doc["panels"]:
            assert panel["id"] not in ids and panel["title"] and panel["type"], (name, panel)
            ids.add(panel["id"])
            assert sources.get(panel["datasource"]["uid"]) == panel["datasource"]["type"], panel["title"]
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                assert target["refId"] and sources.get(target["datasource"]["uid"]) == target["datasource"]["type"]
                assert (target.get("rawSql") or target.get("expr") or "").strip()
            grid = panel["gridPos"]
            assert all(isinstance(grid[k], int) for k in "xywh") and grid["x"] + grid["w"] <= 24, panel["title"]
            own = {(x, y) for x in range(grid["x"], grid["x"] + grid["w"])
                   for y in range(grid["y"], grid["y"] + grid["h"])}
            assert not own & cells, f"{name}: {panel['title']!r} overlaps another panel"
            cells |= own
            assert "unit" in panel["fieldConfig"]["defaults"], panel["title"]
            if panel["type"] in ("timeseries", "barchart"):
                assert panel["options"]["legend"]["showLegend"], panel["title"]


def test_expected_dashboards_and_variables() -> None:
    files = _files()
    titles = {doc["title"] for doc in files.values()}
    assert {"Brand overview", "Course", "Learner", "Operator"} <= titles
    by_title = {doc["title"]: doc for doc in files.values()}
    assert "course" in {v["name"] for v in by_title["Course"]["templating"]["list"]}
    assert "learner" in {v["name"] for v in by_title["Learner"]["templating"]["list"]}
    operator = by_title["Operator"]
    assert any(t.get("expr") for p in operator["panels"] for t in p["targets"]), "Operator needs Prometheus panels"


def test_panel_sql_is_its_query_file_converted() -> None:
    for name, panel, target in _clickhouse_targets():
        assert target["rawSql"] == to_grafana(query(_panel_query(panel)).sql), f"{name}: {panel['title']}"
    for doc in _files().values():
        for variable in doc["templating"]["list"]:
            if variable["type"] == "query":
                assert variable["query"] == to_grafana(query(VARIABLE_QUERIES[variable["name"]]).sql)


def test_expanded_panel_sql_equals_the_query_file_rendered_with_the_same_values() -> None:
    """Grafana's variables + the plugin's macros give exactly the SQL that the report/tests bind."""
    times = time_params(START, END, 3600)
    values = {**VARIABLES, "tenants": ["acme"], "session_cap_s": 1800, **times}
    for name in panel_queries():
        q = query(name)
        expanded = expand_grafana(to_grafana(q.sql), start=START, end=END, interval_s=3600,
                                  variables={**VARIABLES, "tenant": ["acme"]} if "tenants" in q.example_params
                                  else VARIABLES)
        assert expanded == _render(q.sql, {k: values[k] for k in q.example_params}), name


def test_macros_are_used_for_time_ranges() -> None:
    sql = " ".join(t["rawSql"] for _, _, t in _clickhouse_targets())
    assert "$__timeFilter(" in sql and "$__dateFilter(" in sql and "$__fromTime" in sql
    assert "$__interval_s" in sql


def test_no_panel_query_can_leave_out_the_tenant() -> None:
    """Every read of a tenant-keyed table is filtered by the tenant variable; the variable is always quoted."""
    for name, panel, target in _clickhouse_targets():
        assert "${tenant:sqlstring}" in target["rawSql"], f"{name}: {panel['title']}"
        assert not re.search(r"'\$\{?tenant", target["rawSql"]), "quote through :sqlstring, never by hand"
    for q in all_queries():
        if not q.name.startswith("dashboard_") or q.name == VARIABLE_QUERIES["tenant"]:
            continue
        reads = re.findall(r"\bFROM\s+(\w+)", q.sql)
        assert reads, q.name
        for table in reads:
            assert table in TENANT_TABLES, f"{q.name} reads {table}, not a tenant-keyed table"
        filtered = re.findall(
            r"\bFROM\s+\w+(?:\s+FINAL)?\s+(?:PRE)?WHERE\s+tenant\s+(?:=\s+%\(tenant\)s|IN\s+%\(tenants\)s)", q.sql)
        assert len(filtered) == len(reads), f"{q.name}: a FROM without `[PRE]WHERE tenant = ...` right after it"


def test_converter_refuses_parameters_without_a_grafana_equivalent() -> None:
    with pytest.raises(QueryScheme):
        to_grafana("SELECT 1 FROM statements WHERE tenant = %(tenant)s AND x = %(other)s")
    assert to_grafana("a >= toDateTime(%(from_s)s) AND a <= toDateTime(%(to_s)s)") == "$__timeFilter(a)"
    assert expand_grafana("x = ${tenant:sqlstring}", start=START, end=END, interval_s=0,
                          variables={"tenant": "o'neil"}) == "x = 'o''neil'"


def test_prometheus_panels_use_metrics_the_code_exports() -> None:
    exported = set()
    for path in (ROOT / "lrs" / "service" / "metrics.py", ROOT / "streams" / "metrics.py"):
        text = path.read_text(encoding="utf-8")
        for kind, metric in re.findall(r"(Counter|Gauge|Histogram)\(\s*\"(lrs_\w+)\"", text):
            exported |= {metric} if kind != "Histogram" else {f"{metric}_{s}" for s in ("bucket", "sum", "count")}
    used = {m for doc in _files().values() for p in doc["panels"] for t in p["targets"]
            for m in re.findall(r"\blrs_\w+", t.get("expr", ""))}
    assert used and used <= exported, used - exported


def test_every_dashboard_query_file_is_used() -> None:
    used = set(panel_queries()) | {report_html.RANGE_QUERY}
    files = {q.name for q in all_queries() if q.name.startswith("dashboard_")}
    assert files == used, files ^ used
    source = Path(report_html.__file__).read_text(encoding="utf-8")
    for name in re.findall(r"\"(dashboard_\w+)\"", source):
        assert name in files, name
    assert len(DASHBOARDS) == 4
