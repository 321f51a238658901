"""Step of the ``queries`` phase: every ClickHouse panel of the Grafana dashboards, as Grafana would send it.

The panels come from the dashboard pack's generator (:mod:`lrs.tools.report.dashboards`, which builds each
panel's SQL from its packaged query file), so this works from an installed wheel without ``dashboards/json``;
the generated JSON is what ``dashboards/json`` holds (a test compares them).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrs.tools.bench.phases.common import QueryData, slug, time_sql
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import summarize
from lrs.tools.bench.targets import DASHBOARD_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite

INTERVAL_S = 3600  # $__interval_s: what Grafana picks for a week on a wide panel, about


def run(suite: Suite, data: QueryData) -> None:
    """One row per panel (``queries.dashboard.<dashboard>_<title>.p99``); a failing panel is an error row."""
    picks, info = data.picks, data.info
    variables = {"tenant": data.tenant, "course": picks["course"], "learner": picks["learner"]}
    for panel, sql in dashboard_queries(variables, picks["dashboard_from"], picks["dashboard_to"]):
        times, error = time_sql(suite, sql, suite.options.query_repeats)
        s = summarize(times)
        info[f"dashboard.{panel}"] = {"latency_ms": s.as_dict(), "error": error, "sql": sql}
        if error:
            suite.errors.append(f"dashboard query {panel!r}: {error}")
            continue
        suite.add(Result(f"queries.dashboard.{slug(panel)}.p99",
                         f"dashboard '{panel}' ({data.size}): p99 (p50 {s.p50:,.0f} ms)", "ms", s.p99,
                         target=DASHBOARD_TARGET, details=info[f"dashboard.{panel}"],
                         note="target is stated for 10M statements"))


def dashboard_queries(variables: dict[str, str], from_s: int, to_s: int,
                      interval_s: int = INTERVAL_S) -> list[tuple[str, str]]:
    """``("<dashboard file stem>: <panel title>", SQL)`` of every ClickHouse panel, expanded for ClickHouse.

    ``variables`` gives values (tenant, course, learner); a dashboard's constant variables (the session cap)
    default to their current value. Macros and variables are expanded by
    :func:`lrs.tools.report.grafana.expand_grafana`, as Grafana and its ClickHouse plugin do.
    """
    from lrs.tools.report.dashboards import DASHBOARDS, dashboard_json
    from lrs.tools.report.grafana import expand_grafana

    start, end = datetime.fromtimestamp(from_s, UTC), datetime.fromtimestamp(to_s, UTC)
    out = []
    for dashboard in sorted(DASHBOARDS, key=lambda d: d.file):
        doc: dict[str, Any] = dashboard_json(dashboard)
        values: dict[str, str] = {}
        for var in doc.get("templating", {}).get("list", []):
            current = (var.get("current") or {}).get("value")
            if var.get("type") in ("constant", "custom", "textbox", "interval") and current is not None:
                values[var["name"]] = str(current)
        values.update(variables)
        panels = list(doc.get("panels", []))
        for row in list(panels):
            panels.extend(row.get("panels", []))
        for panel in panels:
            for target in panel.get("targets", []):
                sql = target.get("rawSql")
                if not isinstance(sql, str) or not sql.strip():
                    continue  # a Prometheus panel
                expanded = expand_grafana(sql, start=start, end=end, interval_s=interval_s, variables=values)
                out.append((f"{Path(dashboard.file).stem}: {panel.get('title', '?')}", expanded))
    return out
