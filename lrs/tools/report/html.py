"""``lrs report``: the dashboards' views as one self-contained HTML page (inline SVG charts, no scripts, no network).

Every number comes from the same ``schemas/queries/dashboard_*.sql`` files as the Grafana panels, run with the
bound parameters the macros stand for (``lrs.tools.report.grafana.time_params``), so the page and the dashboards agree.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrs.tools.report.grafana import time_params

# What only this command needs, in the `report` extra (pyproject.toml): module name -> distribution.
REPORT_EXTRA = {"matplotlib": "matplotlib", "jinja2": "Jinja2"}
INSTALL_HINT = "pip install 'xapi-stream-lrs[report]'"


def require_report_extra() -> None:
    """Fail with one line naming the extra when its packages are missing (before any query runs)."""
    from lrs.tools.cli_errors import CliFailure, ExitCode

    missing = [dist for module, dist in REPORT_EXTRA.items() if not _importable(module)]
    if missing:
        raise CliFailure(ExitCode.NOT_INSTALLED, f"`lrs report` needs {', '.join(missing)} (the report extra): "
                                                 f"{INSTALL_HINT}")


def _importable(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


# `lrs report` imports this module before it connects anywhere: a missing extra is the first thing reported.
require_report_extra()


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


@dataclass
class Figure:
    """A titled chart: ``svg`` is markup matplotlib made (inserted as is; the title is escaped)."""

    title: str
    svg: Any


@dataclass
class TableView:
    """Some columns of a query's rows, formatted, with the count of rows left out."""

    headings: list[str]
    rows: list[list[str]]
    more: int


def _figure_of(title: str, svg: str) -> Figure:
    from markupsafe import Markup

    return Figure(title, Markup(svg))


def _table(table: Table, columns: dict[str, tuple[str, str]], limit: int = 50) -> TableView:
    """A table of some columns: name -> (heading, format), at most ``limit`` rows."""
    rows = [[_fmt(row[c], kind) for c, (_, kind) in columns.items()] for row in table.dicts()[:limit]]
    return TableView([h for h, _ in columns.values()], rows, max(0, len(table.rows) - limit))


def _template() -> Any:
    """The page template (``templates/report.html.j2``), with autoescape on."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("lrs.tools.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["fmt"] = _fmt
    return env.get_template("report.html.j2")


def build_report(run: Runner, tenant: str, *, session_cap_s: int = 1800,
                 now: dt.datetime | None = None) -> str:
    """The report's HTML for ``tenant``, querying through ``run(query_name, params)``."""
    page = _template()
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

    # Brand overview
    enrol = q("dashboard_overview_enrolments").dicts()[0]
    rates = q("dashboard_overview_rates").dicts()[0]
    courses = q("dashboard_overview_courses")
    active = q("dashboard_overview_active_learners", from_s=times["from_s"], to_s=times["to_s"])
    rate = q("dashboard_overview_statement_rate", from_s=times["from_s"], to_s=times["to_s"], interval_s=interval)
    at_risk = q("dashboard_overview_at_risk")
    overview = {
        "courses": courses.col("course"),
        "cards": [("enrolments", _fmt(enrol["started"])), ("active last 7 days", _fmt(enrol["active"])),
                  ("completed", _fmt(enrol["completed"])), ("certified", _fmt(enrol["certified"])),
                  ("at risk", _fmt(enrol["at_risk"])), ("dropped", _fmt(enrol["dropped"])),
                  ("completion rate", _fmt(rates["completion_rate"], "pct")),
                  ("pass rate", _fmt(rates["pass_rate"], "pct")),
                  ("certificate conversion", _fmt(rates["certificate_conversion"], "pct"))],
        "active": _figure_of("Active learners per day",
                             chart_series(active.col("time"), {"active learners": active.col("active_learners")},
                                          bars=True)),
        "rate": _figure_of(f"Statements per minute ({interval // 3600} h average)",
                           chart_series(rate.col("time"), {"statements/min": rate.col("statements_per_min")})),
        "ranking": _figure_of("Courses ranked by completion rate", chart_bars(
            courses.col("course"), {"completion": courses.col("completion_rate"), "pass": courses.col("pass_rate"),
                                    "certificate conversion": courses.col("certificate_conversion")},
            horizontal=True, percent=True, width=9.0, height=max(2.2, 0.6 * len(courses.rows) + 0.8))),
        "courses_table": _table(courses, {
            "course": ("course", ""), "started": ("started", ""), "active": ("active 7d", ""),
            "completion_rate": ("completion", "pct"), "pass_rate": ("pass", "pct"),
            "certificate_conversion": ("certificate conversion", "pct"), "at_risk": ("at risk", ""),
            "dropped": ("dropped", "")}),
        "at_risk": _table(at_risk, {
            "learner": ("learner", ""), "course": ("course", ""), "status": ("status", ""),
            "last_seen": ("last seen", ""), "inactive_s": ("inactive", "days"),
            "furthest_position": ("furthest module", ""), "time_on_task_s": ("time on task", "s")}, limit=25),
    }

    # One section per course
    sections = []
    for course in courses.dicts():
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
        section: dict[str, Any] = {"name": course["course"], "cards": None, "rates": None}
        if kpi:
            k, r = kpi[0], crates[0]
            section["cards"] = [("started", _fmt(k["started"])), ("active last 7 days", _fmt(k["active"])),
                                ("completed", _fmt(k["completed"])), ("passed", _fmt(k["passed"])),
                                ("certified", _fmt(k["certified"])), ("at risk", _fmt(k["at_risk"])),
                                ("dropped", _fmt(k["dropped"]))]
            section["rates"] = _figure_of("Completion, pass and certificate conversion", chart_bars(
                ["completion", "pass", "certificate conversion"],
                {"rate": [r["completion_rate"], r["pass_rate"], r["certificate_conversion"]]},
                horizontal=True, percent=True, height=1.8))
        section["grid"] = [
            _figure_of("Funnel by module", chart_bars(
                funnel.col("module"), {"reached": funnel.col("reached"), "dropped here": funnel.col("dropped_here")},
                horizontal=True, height=max(2.5, 0.45 * len(funnel.rows) + 1))),
            _figure_of("Time on task per learner", chart_bars(tot.col("time_on_task"),
                                                              {"learners": tot.col("learners")})),
            _figure_of("Engagement by hour of day (UTC)", chart_bars(
                hours.col("hour_of_day"), {"statements": hours.col("statements")})),
            _figure_of("Engagement by weekday (UTC)", chart_bars(
                weekdays.col("weekday"), {"statements": weekdays.col("statements"),
                                          "sessions": weekdays.col("sessions")})),
        ]
        section["daily"] = _figure_of("Daily engagement", chart_series(daily.col("time"), {
            "active learners": daily.col("active_learners"), "sessions": daily.col("sessions"),
            "hours on task": daily.col("hours_on_task")}))
        section["retention"] = _figure_of("Weekly cohort retention", chart_heatmap(
            [f"{w:%Y-%m-%d} ({n})" for w, n in zip(cohorts.col("cohort_week"), cohorts.col("cohort_size"),
                                                  strict=True)],
            [w[1:] for w in used], [[row[cohorts.columns.index(w)] for w in used] for row in cohorts.rows]))
        sections.append(section)

    return page.render(tenant=tenant, start=start, end=end, counted=counted, now=now, overview=overview,
                       courses=sections, session_cap_min=session_cap_s // 60)


def write_report(run: Runner, tenant: str, out_dir: Path, **kwargs: Any) -> Path:
    """Render the report into ``out_dir/report-<tenant>.html`` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", tenant)
    path = out_dir / f"report-{safe}.html"
    path.write_text(build_report(run, tenant, **kwargs), encoding="utf-8")
    return path
