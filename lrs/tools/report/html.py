"""``lrs report``: the dashboards' views as one self-contained HTML page (inline SVG charts, no scripts, no network).

Every number comes from the same ``schemas/queries/dashboard_*.sql`` files as the Grafana panels, run with the
bound parameters the macros stand for (``lrs.tools.report.grafana.time_params``), so the page and the dashboards agree.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrs.tools.report.grafana import time_params

# The query files of the page; each also backs a Grafana panel (lrs.tools.report.dashboards), except the range.
RANGE_QUERY = "dashboard_report_range"
Runner = Callable[[str, dict[str, Any]], tuple[list[str], list[tuple]]]

PALETTE = ("#3867d6", "#eb3b5a", "#20bf6b", "#f7b731", "#8854d0", "#0fb9b1", "#fa8231", "#4b6584")


@dataclass
class Table:
    """Rows of one query with their column names."""

    columns: list[str]
    rows: list[tuple]

    def dicts(self) -> list[dict[str, Any]]:
        """Rows as dicts by column name."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def col(self, name: str) -> list[Any]:
        """One column's values."""
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


def clickhouse_runner(settings: Any) -> Runner:
    """A runner executing named queries on the configured ClickHouse server, with column names."""
    from lrs.core.store.clickhouse import bind, make_client
    from lrs.core.store.queries import query

    def run(name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
        client = make_client(settings)
        try:
            rows, types = client.execute(query(name).sql, bind(params), with_column_types=True)
        finally:
            client.disconnect()
        return [n for n, _ in types], rows

    return run


def _svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _figure(width: float = 7.0, height: float = 3.2) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "lrs-report", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    fig, ax = plt.subplots(figsize=(width, height), dpi=100)
    return fig, ax


def _empty(ax: Any, what: str = "no data in this range") -> None:
    ax.text(0.5, 0.5, what, ha="center", va="center", transform=ax.transAxes, color="#888")
    ax.set_xticks([])
    ax.set_yticks([])


def chart_series(times: Sequence[Any], series: dict[str, Sequence[float]], *, bars: bool = False,
                 ylabel: str = "") -> str:
    """A time series chart (lines, or bars for daily counts) as SVG."""
    fig, ax = _figure()
    if not times:
        _empty(ax)
    for i, (label, values) in enumerate(series.items()):
        if bars and len(series) == 1:
            ax.bar(times, values, width=0.8, color=PALETTE[i], label=label)
        else:
            ax.plot(times, values, color=PALETTE[i % len(PALETTE)], label=label, linewidth=1.6)
    if times:
        ax.legend(loc="upper left", frameon=False)
        fig.autofmt_xdate()
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    return _svg(fig)


def chart_bars(labels: Sequence[str], series: dict[str, Sequence[float]], *, horizontal: bool = False,
               percent: bool = False, width: float = 7.0, height: float = 3.2) -> str:
    """Grouped bars per category as SVG."""
    fig, ax = _figure(width, height)
    if not labels:
        _empty(ax)
        return _svg(fig)
    n = max(len(series), 1)
    step = 0.8 / n
    positions = list(range(len(labels)))
    for i, (name, values) in enumerate(series.items()):
        offsets = [p - 0.4 + step * (i + 0.5) for p in positions]
        plot = ax.barh if horizontal else ax.bar
        bars = plot(offsets, values, step * 0.95, color=PALETTE[i % len(PALETTE)], label=name)
        ax.bar_label(bars, labels=[f"{v:.0%}" if percent else f"{v:,.0f}" for v in values], fontsize=7,
                     padding=2)
    if horizontal:
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()
    else:
        ax.set_xticks(positions, labels, rotation=0 if len(labels) <= 12 else 60,
                      ha="center" if len(labels) <= 12 else "right")
    if percent:
        (ax.set_xlim if horizontal else ax.set_ylim)(0, 1.1)
    if len(series) > 1:
        ax.legend(loc="lower right" if horizontal else "upper right", frameon=False)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    return _svg(fig)


def chart_heatmap(rows: Sequence[str], columns: Sequence[str], values: Sequence[Sequence[float | None]]) -> str:
    """A retention triangle (0..1, missing = blank) as SVG."""
    fig, ax = _figure(7.0, max(2.0, 0.35 * len(rows) + 1))
    if not rows:
        _empty(ax)
        return _svg(fig)
    import numpy as np

    grid = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=float)
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for (r, c), v in np.ndenumerate(grid):
        if not math.isnan(v):
            ax.text(c, r, f"{v:.0%}", ha="center", va="center", fontsize=7, color="black")
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("weeks since the cohort's first activity")
    fig.colorbar(image, ax=ax, fraction=0.03, format=lambda x, _: f"{x:.0%}")
    return _svg(fig)


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _fmt(value: Any, kind: str = "") -> str:
    if value is None:
        return ""
    if kind == "pct":
        return f"{value:.1%}"
    if kind == "s":
        return f"{value / 3600:.1f} h" if value >= 3600 else f"{value / 60:.0f} min"
    if kind == "days":
        return f"{value / 86400:.1f} d"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _table(table: Table, columns: dict[str, tuple[str, str]], limit: int = 50) -> str:
    """An HTML table of some columns: name -> (heading, format)."""
    head = "".join(f"<th>{_esc(h)}</th>" for h, _ in columns.values())
    body = []
    for row in table.dicts()[:limit]:
        cells = "".join(f"<td>{_esc(_fmt(row[c], kind))}</td>" for c, (_, kind) in columns.items())
        body.append(f"<tr>{cells}</tr>")
    more = f"<p class='note'>{len(table.rows) - limit} more not shown</p>" if len(table.rows) > limit else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{more}"


def _cards(items: Sequence[tuple[str, str]]) -> str:
    return "<div class='cards'>" + "".join(
        f"<div class='card'><div class='value'>{_esc(v)}</div><div class='label'>{_esc(k)}</div></div>"
        for k, v in items) + "</div>"


def _section(title: str, body: str, anchor: str = "") -> str:
    ident = f" id='{_esc(anchor)}'" if anchor else ""
    return f"<section{ident}><h2>{_esc(title)}</h2>{body}</section>"


def _figure_html(title: str, svg: str) -> str:
    return f"<figure><figcaption>{_esc(title)}</figcaption>{svg}</figure>"


CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222;
background:#fff}
h1{margin-bottom:0}h2{border-bottom:2px solid #3867d6;padding-bottom:4px;margin-top:36px}
.meta,.note{color:#666;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{background:#f1f4fb;border-radius:8px;padding:10px 16px;min-width:120px}
.card .value{font-size:24px;font-weight:600;color:#1e3799}.card .label{font-size:12px;color:#555}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
figure{margin:0;background:#fafbfd;border:1px solid #e3e7ef;border-radius:8px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}figure svg{width:100%;height:auto}
table{border-collapse:collapse;font-size:12px;width:100%;margin:8px 0}
th,td{border-bottom:1px solid #e3e7ef;padding:4px 6px;text-align:left}th{background:#f1f4fb}
nav a{margin-right:12px}
"""


def build_report(run: Runner, tenant: str, *, session_cap_s: int = 1800,
                 now: dt.datetime | None = None) -> str:
    """The report's HTML for ``tenant``, querying through ``run(query_name, params)``."""
    now = now or dt.datetime.now(dt.UTC)
    first_s, last_s, counted = Table(*run(RANGE_QUERY, {"tenant": tenant})).rows[0]
    if not counted:
        first_s = last_s = int(now.timestamp())
    start = dt.datetime.fromtimestamp(first_s, dt.UTC).replace(hour=0, minute=0, second=0)
    end = dt.datetime.fromtimestamp(last_s, dt.UTC).replace(hour=23, minute=59, second=59)
    interval = max(3600, int((end - start).total_seconds() / 200) // 3600 * 3600)
    times = time_params(start, end, interval)

    def q(name: str, **params: Any) -> Table:
        return Table(*run(name, {"tenant": tenant, **params}))

    parts = [f"<h1>Brand learning report: {_esc(tenant)}</h1>",
             f"<p class='meta'>Activity from {start:%Y-%m-%d} to {end:%Y-%m-%d} (UTC), {counted:,} counting "
             f"statements; generated {now:%Y-%m-%d %H:%M} UTC. Definitions: docs/metrics.md; the same queries "
             f"back the Grafana dashboards (docs/dashboards.md).</p>"]

    # Brand overview
    enrol = q("dashboard_overview_enrolments").dicts()[0]
    rates = q("dashboard_overview_rates").dicts()[0]
    courses = q("dashboard_overview_courses")
    active = q("dashboard_overview_active_learners", from_s=times["from_s"], to_s=times["to_s"])
    rate = q("dashboard_overview_statement_rate", from_s=times["from_s"], to_s=times["to_s"], interval_s=interval)
    at_risk = q("dashboard_overview_at_risk")
    nav = "".join(f"<a href='#course-{i}'>{_esc(c)}</a>" for i, c in enumerate(courses.col("course"), 1))
    overview = [
        f"<nav>Courses: {nav}</nav>" if nav else "",
        _cards([("enrolments", _fmt(enrol["started"])), ("active last 7 days", _fmt(enrol["active"])),
                ("completed", _fmt(enrol["completed"])), ("certified", _fmt(enrol["certified"])),
                ("at risk", _fmt(enrol["at_risk"])), ("dropped", _fmt(enrol["dropped"])),
                ("completion rate", _fmt(rates["completion_rate"], "pct")),
                ("pass rate", _fmt(rates["pass_rate"], "pct")),
                ("certificate conversion", _fmt(rates["certificate_conversion"], "pct"))]),
        "<div class='grid'>",
        _figure_html("Active learners per day",
                     chart_series(active.col("time"), {"active learners": active.col("active_learners")},
                                  bars=True)),
        _figure_html(f"Statements per minute ({interval // 3600} h average)",
                     chart_series(rate.col("time"), {"statements/min": rate.col("statements_per_min")})),
        "</div>",
        _figure_html("Courses ranked by completion rate",
                     chart_bars(courses.col("course"), {
                         "completion": courses.col("completion_rate"), "pass": courses.col("pass_rate"),
                         "certificate conversion": courses.col("certificate_conversion")},
                         horizontal=True, percent=True, width=9.0, height=max(2.2, 0.6 * len(courses.rows) + 0.8))),
        _table(courses, {"course": ("course", ""), "started": ("started", ""), "active": ("active 7d", ""),
                         "completion_rate": ("completion", "pct"), "pass_rate": ("pass", "pct"),
                         "certificate_conversion": ("certificate conversion", "pct"), "at_risk": ("at risk", ""),
                         "dropped": ("dropped", "")}),
        "<h3>At-risk and dropped learners now</h3>",
        _table(at_risk, {"learner": ("learner", ""), "course": ("course", ""), "status": ("status", ""),
                         "last_seen": ("last seen", ""), "inactive_s": ("inactive", "days"),
                         "furthest_position": ("furthest module", ""), "time_on_task_s": ("time on task", "s")},
               limit=25),
    ]
    parts.append(_section("Brand overview", "".join(overview), "overview"))

    # One section per course
    for number, course in enumerate(courses.dicts(), 1):
        c = {"course": course["course_id"]}
        kpi = q("dashboard_course_enrolments", **c).dicts()
        crates = q("dashboard_course_rates", **c).dicts()
        funnel = q("dashboard_course_funnel", **c)
        tot = q("dashboard_course_time_on_task", **c)
        daily = q("dashboard_course_daily", **c, from_date=times["from_date"], to_date=times["to_date"])
        cohorts = q("dashboard_course_cohort_retention", **c, from_s=times["from_s"], to_s=times["to_s"])
        hours = q("dashboard_course_by_hour", **c, from_s=times["from_s"], to_s=times["to_s"])
        weekdays = q("dashboard_course_by_weekday", **c, from_s=times["from_s"], to_s=times["to_s"])
        weeks = [w for w in cohorts.columns if re.fullmatch(r"w\d+", w)]
        used = [w for w in weeks if any(v is not None for v in cohorts.col(w))] or weeks[:1]
        body = []
        if kpi:
            k, r = kpi[0], crates[0]
            body.append(_cards([("started", _fmt(k["started"])), ("active last 7 days", _fmt(k["active"])),
                                ("completed", _fmt(k["completed"])), ("passed", _fmt(k["passed"])),
                                ("certified", _fmt(k["certified"])), ("at risk", _fmt(k["at_risk"])),
                                ("dropped", _fmt(k["dropped"]))]))
            body.append(_figure_html("Completion, pass and certificate conversion", chart_bars(
                ["completion", "pass", "certificate conversion"],
                {"rate": [r["completion_rate"], r["pass_rate"], r["certificate_conversion"]]},
                horizontal=True, percent=True, height=1.8)))
        body += [
            "<div class='grid'>",
            _figure_html("Funnel by module", chart_bars(
                funnel.col("module"), {"reached": funnel.col("reached"), "dropped here": funnel.col("dropped_here")},
                horizontal=True, height=max(2.5, 0.45 * len(funnel.rows) + 1))),
            _figure_html("Time on task per learner", chart_bars(tot.col("time_on_task"),
                                                                {"learners": tot.col("learners")})),
            _figure_html("Engagement by hour of day (UTC)", chart_bars(
                hours.col("hour_of_day"), {"statements": hours.col("statements")})),
            _figure_html("Engagement by weekday (UTC)", chart_bars(
                weekdays.col("weekday"), {"statements": weekdays.col("statements"),
                                          "sessions": weekdays.col("sessions")})),
            "</div>",
            _figure_html("Daily engagement", chart_series(daily.col("time"), {
                "active learners": daily.col("active_learners"), "sessions": daily.col("sessions"),
                "hours on task": daily.col("hours_on_task")})),
            _figure_html("Weekly cohort retention", chart_heatmap(
                [f"{w:%Y-%m-%d} ({n})" for w, n in zip(cohorts.col("cohort_week"), cohorts.col("cohort_size"),
                                                      strict=True)],
                [w[1:] for w in used], [[row[cohorts.columns.index(w)] for w in used] for row in cohorts.rows])),
        ]
        parts.append(_section(f"Course: {course['course']}", "".join(body), f"course-{number}"))

    parts.append(f"<p class='note'>Sessions end at gaps longer than {session_cap_s // 60} minutes.</p>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>Brand learning report: {_esc(tenant)}</title><style>{CSS}</style></head><body>"
            + "".join(parts) + "</body></html>")


def write_report(run: Runner, tenant: str, out_dir: Path, **kwargs: Any) -> Path:
    """Render the report into ``out_dir/report-<tenant>.html`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tenant)
    path = out_dir / f"report-{safe}.html"
    path.write_text(build_report(run, tenant, **kwargs), encoding="utf-8")
    return path
