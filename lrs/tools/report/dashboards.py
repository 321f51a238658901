"""The Grafana dashboard pack, declared once: dashboards, variables and panels, each ClickHouse panel naming its
query file. ``python -m lrs.tools.report.dashboards`` writes ``dashboards/json/*.json`` from it (``--check`` only
compares); the SQL of every panel is ``to_grafana`` of its ``schemas/queries/dashboard_*.sql`` file.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrs.core.store.queries import query
from lrs.tools.report.grafana import to_grafana

ROOT = Path(__file__).resolve().parents[3]
JSON_DIR = ROOT / "dashboards" / "json"
CLICKHOUSE = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
DEFAULT_SESSION_CAP_S = 1800  # LRS_ANALYTICS_SESSION_CAP_S default (docs/metrics.md)


@dataclass(frozen=True)
class Panel:
    """One panel: a ClickHouse query file (``query``) or Prometheus expressions (``prom``: legend, expr)."""

    title: str
    kind: str  # stat | timeseries | table | barchart | bargauge
    grid: tuple[int, int, int, int]  # x, y, w, h
    query: str = ""
    prom: tuple[tuple[str, str], ...] = ()
    unit: str = "short"
    units: dict[str, str] = field(default_factory=dict)  # per-field units (overrides)
    hide: tuple[str, ...] = ()  # fields the panel does not show (kept in the SQL for ordering/joins)
    x_field: str = ""  # bar charts: the category field
    horizontal: bool = False
    description: str = ""
    heatmap: bool = False  # table cells coloured by value (0..1)
    bars: bool = False  # time series drawn as bars


@dataclass(frozen=True)
class Dashboard:
    """A dashboard file: uid, title, which variables it has, its panels."""

    file: str
    uid: str
    title: str
    description: str
    variables: tuple[str, ...]
    panels: tuple[Panel, ...]
    multi_tenant: bool = False
    time_from: str = "now-90d"


BRAND = Dashboard(
    "brand_overview.json", "lrs-brand-overview", "Brand overview",
    "How the brand's courses are doing: enrolments, activity, completion and certificates, who needs a nudge.",
    ("tenant",),
    (
        Panel("Enrolments now", "stat", (0, 0, 14, 5), query="dashboard_overview_enrolments",
              description="Learner-course enrolments by state, all courses (a learner in two courses counts twice)."),
        Panel("Completion, pass and certificate conversion", "stat", (14, 0, 10, 5), query="dashboard_overview_rates",
              unit="percentunit",
              description="Completed / started, passed / started, certified / completed, over all enrolments."),
        Panel("Active learners per day", "timeseries", (0, 5, 12, 8), query="dashboard_overview_active_learners",
              bars=True, description="Distinct learners with at least one counting statement per UTC day."),
        Panel("Statements per minute", "timeseries", (12, 5, 12, 8), query="dashboard_overview_statement_rate",
              unit="suffix: /min", description="Learning activity by event time, averaged over the panel interval."),
        Panel("Courses ranked by completion rate", "table", (0, 13, 24, 8), query="dashboard_overview_courses",
              units={"completion_rate": "percentunit", "pass_rate": "percentunit",
                     "certificate_conversion": "percentunit"}, hide=("course_id",),
              description="Per course: enrolments, learners active in the last 7 days, rates, at risk and dropped."),
        Panel("At-risk and dropped learners now", "table", (0, 21, 24, 9), query="dashboard_overview_at_risk",
              units={"inactive_s": "s", "time_on_task_s": "s", "last_seen": "dateTimeAsIso"},
              description="At risk: inactive 3+ days; dropped: 7+ days, not completed (docs/metrics.md)."),
    ),
)

COURSE = Dashboard(
    "course.json", "lrs-course", "Course",
    "One course: where learners drop off, completion and pass rates, effort, weekly cohorts, when people learn.",
    ("tenant", "course"),
    (
        Panel("Learners", "stat", (0, 0, 14, 5), query="dashboard_course_enrolments"),
        Panel("Completion, pass and certificate conversion", "bargauge", (14, 0, 10, 5),
              query="dashboard_course_rates", unit="percentunit"),
        Panel("Funnel by module", "barchart", (0, 5, 12, 10), query="dashboard_course_funnel", x_field="module",
              horizontal=True, hide=("position",),
              description="Learners who reached each module, and dropped learners whose furthest module it is."),
        Panel("Time on task per learner", "barchart", (12, 5, 12, 10), query="dashboard_course_time_on_task",
              x_field="time_on_task", hide=("bin",),
              description="Learners by total time on task (in-session gaps up to the session cap)."),
        Panel("Daily engagement", "timeseries", (0, 15, 24, 8), query="dashboard_course_daily",
              units={"hours_on_task": "h"}),
        Panel("Weekly cohort retention", "table", (0, 23, 24, 9), query="dashboard_course_cohort_retention",
              unit="percentunit", heatmap=True, units={"cohort_size": "short", "cohort_week": "time:YYYY-MM-DD"},
              description="Share of each weekly cohort (by first activity) active in week 0, 1, 2, ... after."),
        Panel("Engagement by hour of day (UTC)", "barchart", (0, 32, 12, 8), query="dashboard_course_by_hour",
              x_field="hour_of_day"),
        Panel("Engagement by weekday (UTC)", "barchart", (12, 32, 12, 8), query="dashboard_course_by_weekday",
              x_field="weekday"),
        Panel("Learners of the course", "table", (0, 40, 24, 10), query="dashboard_course_learners",
              units={"time_on_task_s": "s", "first_seen": "dateTimeAsIso", "last_seen": "dateTimeAsIso"}),
    ),
)

LEARNER = Dashboard(
    "learner.json", "lrs-learner", "Learner",
    "One learner across courses: status and progress, sessions, activity over time, every statement.",
    ("tenant", "learner", "session_cap_s"),
    (
        Panel("Courses of the learner", "table", (0, 0, 24, 7), query="dashboard_learner_courses",
              units={"progress": "percentunit", "time_on_task_s": "s", "first_seen": "dateTimeAsIso",
                     "last_seen": "dateTimeAsIso"}),
        Panel("Activity per day", "timeseries", (0, 7, 24, 8), query="dashboard_learner_activity", bars=True),
        Panel("Sessions", "table", (0, 15, 10, 12), query="dashboard_learner_sessions", units={"duration_s": "s"}),
        Panel("Timeline", "table", (10, 15, 14, 12), query="dashboard_learner_timeline",
              units={"score": "percentunit"}),
    ),
)

_RATE = "[$__rate_interval]"
OPERATOR = Dashboard(
    "operator.json", "lrs-operator", "Operator",
    "The pipeline's health: ingest, rejections, produce latency, worker throughput, ClickHouse writes, freshness.",
    ("tenant",),
    (
        Panel("Statements accepted per second", "timeseries", (0, 0, 12, 8), unit="suffix: /s", prom=(
            ("{{tenant}}", 'sum by (tenant) (rate(lrs_statements_accepted_total{tenant=~"${tenant:regex}"}'
                           + _RATE + "))"),)),
        Panel("Rejected statements by reason", "timeseries", (12, 0, 12, 8), unit="suffix: /s", prom=(
            ("{{reason}}", "sum by (reason) (rate(lrs_statements_rejected_total" + _RATE + "))"),)),
        Panel("Produce latency (broker acknowledgement)", "timeseries", (0, 8, 12, 8), unit="s", prom=tuple(
            (f"p{q}", f"histogram_quantile(0.{q}, sum by (le) (rate(lrs_produce_seconds_bucket{_RATE})))")
            for q in (50, 95, 99))),
        Panel("HTTP requests by status", "timeseries", (12, 8, 12, 8), unit="reqps", prom=(
            ("{{status}}", "sum by (status) (rate(lrs_http_requests_total" + _RATE + "))"),)),
        Panel("Worker throughput", "timeseries", (0, 16, 12, 8), unit="suffix: /s", prom=(
            ("{{processor}}", "sum by (processor) (rate(lrs_worker_events_processed_total" + _RATE + "))"),)),
        Panel("Worker lag: accepted minus written", "timeseries", (12, 16, 12, 8), unit="suffix: /s",
              description="Above zero while the sink falls behind the LRS (statements per second).", prom=(
                  ("backlog growth", "sum(rate(lrs_statements_accepted_total" + _RATE + ")) - sum(rate("
                   'lrs_worker_events_processed_total{processor="sink"}' + _RATE + "))"),)),
        Panel("ClickHouse insert latency (p95)", "timeseries", (0, 24, 12, 8), unit="s", prom=(
            ("{{table}}", "histogram_quantile(0.95, sum by (le, table) (rate(lrs_worker_insert_seconds_bucket"
                          + _RATE + ")))"),)),
        Panel("Insert errors and unreadable messages", "timeseries", (12, 24, 12, 8), unit="suffix: /s", prom=(
            ("errors {{table}}", "sum by (table) (rate(lrs_worker_insert_errors_total" + _RATE + "))"),
            ("poison {{reason}}", "sum by (reason) (rate(lrs_worker_poison_messages_total" + _RATE + "))"))),
        Panel("Sink lag per worker", "timeseries", (0, 32, 24, 8), unit="s",
              description="How long each worker's current batch has been failing to reach ClickHouse, and how old "
                          "the newest statement it wrote is (both grow while ClickHouse is down or slow).", prom=(
                  ("stalled {{instance}}", "max by (instance) (lrs_worker_sink_stalled_seconds)"),
                  ("newest written, age {{instance}}",
                   "time() - max by (instance) (lrs_worker_last_written_stored_seconds)"))),
        Panel("Last statement received per tenant", "table", (0, 40, 12, 8), query="dashboard_operator_last_statement",
              units={"seconds_ago": "s", "last_stored": "dateTimeAsIso"}),
        Panel("Analytics freshness per tenant", "table", (12, 40, 12, 8),
              query="dashboard_operator_analytics_freshness",
              units={"last_recompute": "dateTimeAsIso", "oldest_clock": "dateTimeAsIso",
                     "newest_clock": "dateTimeAsIso"}),
    ),
    multi_tenant=True,
    time_from="now-6h",
)

DASHBOARDS: tuple[Dashboard, ...] = (BRAND, COURSE, LEARNER, OPERATOR)
VARIABLE_QUERIES = {"tenant": "dashboard_var_tenants", "course": "dashboard_var_courses",
                    "learner": "dashboard_var_learners"}


def panel_queries() -> list[str]:
    """Every query file a dashboard uses (panels and variables)."""
    names = [p.query for d in DASHBOARDS for p in d.panels if p.query]
    return sorted(set(names) | set(VARIABLE_QUERIES.values()))


def _variable(name: str, dashboard: Dashboard) -> dict[str, Any]:
    if name in VARIABLE_QUERIES:
        sql = to_grafana(query(VARIABLE_QUERIES[name]).sql)
        multi = name == "tenant" and dashboard.multi_tenant
        return {"name": name, "label": name.capitalize(), "type": "query", "datasource": CLICKHOUSE,
                "query": sql, "definition": sql, "refresh": 1, "sort": 0, "multi": multi, "includeAll": multi,
                "current": {}, "options": [], "hide": 0}
    if name == "session_cap_s":
        value = str(DEFAULT_SESSION_CAP_S)
        return {"name": name, "label": "Session cap (s)", "type": "constant", "query": value, "hide": 2,
                "current": {"text": value, "value": value}, "options": [{"text": value, "value": value,
                                                                          "selected": True}]}
    raise KeyError(name)


def _field_config(panel: Panel) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": panel.unit, "color": {"mode": "palette-classic"},
                                "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None}]}}
    if panel.kind == "timeseries":
        defaults["custom"] = {"drawStyle": "bars" if panel.bars else "line", "lineWidth": 2, "fillOpacity": 15,
                              "showPoints": "never", "spanNulls": False}
    if panel.unit == "percentunit":
        defaults.update(min=0, max=1)
    if panel.kind == "stat":
        defaults["color"] = {"mode": "fixed", "fixedColor": "blue"}
    if panel.heatmap:
        defaults["color"] = {"mode": "continuous-RdYlGr"}
        defaults["custom"] = {"cellOptions": {"type": "color-background"}, "align": "center"}
    overrides = []
    for name, unit in panel.units.items():
        props: list[dict[str, Any]] = [{"id": "unit", "value": unit}]
        if panel.heatmap:
            props.append({"id": "custom.cellOptions", "value": {"type": "auto"}})
        if unit == "percentunit" and panel.kind == "table":
            props.append({"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "basic"}})
            props += [{"id": "min", "value": 0}, {"id": "max", "value": 1}]
        overrides.append({"matcher": {"id": "byName", "options": name}, "properties": props})
    return {"defaults": defaults, "overrides": overrides}


def _options(panel: Panel) -> dict[str, Any]:
    legend = {"displayMode": "list", "placement": "bottom", "showLegend": True}
    if panel.kind == "timeseries":
        return {"legend": legend, "tooltip": {"mode": "multi", "sort": "none"}}
    if panel.kind == "stat":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "value", "graphMode": "none", "textMode": "value_and_name", "justifyMode": "auto",
                "orientation": "auto"}
    if panel.kind == "bargauge":
        return {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}
    if panel.kind == "barchart":
        return {"xField": panel.x_field, "orientation": "horizontal" if panel.horizontal else "vertical",
                "legend": legend, "tooltip": {"mode": "multi", "sort": "none"}, "showValue": "auto",
                "stacking": "none", "groupWidth": 0.7, "barWidth": 0.9, "xTickLabelRotation": 0}
    return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}


def panel_json(panel: Panel, panel_id: int) -> dict[str, Any]:
    """The Grafana JSON of one panel."""
    if panel.query:
        datasource = CLICKHOUSE
        series = panel.kind == "timeseries"
        targets = [{"refId": "A", "datasource": CLICKHOUSE, "editorType": "sql",
                    "queryType": "timeseries" if series else "table", "format": 0 if series else 1,
                    "rawSql": to_grafana(query(panel.query).sql)}]
        source = f"SQL: schemas/queries/{panel.query}.sql"
        description = f"{panel.description} {source}".strip()
    else:
        datasource = PROMETHEUS
        targets = [{"refId": chr(ord("A") + i), "datasource": PROMETHEUS, "expr": expr, "legendFormat": legend,
                    "range": True, "editorMode": "code"} for i, (legend, expr) in enumerate(panel.prom)]
        description = panel.description
    x, y, w, h = panel.grid
    result: dict[str, Any] = {
        "id": panel_id, "type": panel.kind, "title": panel.title, "description": description,
        "datasource": datasource, "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": _field_config(panel), "options": _options(panel), "targets": targets,
    }
    if panel.hide:
        result["transformations"] = [{"id": "organize", "options": {"excludeByName": dict.fromkeys(panel.hide,
                                                                                                  True)}}]
    return result


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana JSON of one dashboard."""
    return {
        "uid": dashboard.uid, "title": dashboard.title, "description": dashboard.description,
        "tags": ["xapi", "lrs", "brand-learning"], "editable": False, "graphTooltip": 1,
        "schemaVersion": 39, "version": 1, "timezone": "utc", "refresh": "5m" if not dashboard.multi_tenant else "1m",
        "time": {"from": dashboard.time_from, "to": "now"},
        "templating": {"list": [_variable(v, dashboard) for v in dashboard.variables]},
        "annotations": {"list": []},
        "links": [{"title": "Dashboards", "type": "dashboards", "tags": ["lrs"], "asDropdown": True,
                   "includeVars": True, "keepTime": True}],
        "panels": [panel_json(p, i) for i, p in enumerate(dashboard.panels, 1)],
    }


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {d.file: json.dumps(dashboard_json(d), indent=2, ensure_ascii=False) + "\n" for d in DASHBOARDS}


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``dashboards/json/*.json``; 1 if a file differs in check mode."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = JSON_DIR / name
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    verb = "differ" if args.check else "written"
    print(f"{verb}: {', '.join(stale) or 'none'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
