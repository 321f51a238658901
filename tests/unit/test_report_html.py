"""``lrs report``'s page from canned query results (no ClickHouse): every view is there, values are escaped."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="the report extra: pip install 'xapi-stream-lrs[report]'")
pytest.importorskip("jinja2", reason="the report extra: pip install 'xapi-stream-lrs[report]'")

from lrs.tools.cli_errors import ExitCode  # noqa: E402
from lrs.tools.report.html import build_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

DAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
HOURS = [DAY + dt.timedelta(hours=h) for h in range(0, 72, 6)]


def canned(courses: list[tuple[str, str]], *, empty: bool = False):
    """A runner answering each named query with fixed rows (the columns the page reads)."""

    def run(name: str, params: dict[str, Any]) -> tuple[list[str], list[tuple]]:
        if empty and name != "dashboard_report_range":
            if name in ("dashboard_overview_enrolments", "dashboard_overview_rates"):
                pass
            elif name == "dashboard_course_cohort_retention":
                return ["cohort_week", "cohort_size", "w0", "w1"], []
            else:
                return TABLES[name][0], []
        if name == "dashboard_report_range":
            return ["first_s", "last_s", "counted"], [(int(DAY.timestamp()), int(HOURS[-1].timestamp()),
                                                       0 if empty else 12345)]
        if name == "dashboard_overview_courses":
            return TABLES[name][0], [(title, cid, 40 + i, 10, 0.5 - i / 10, 0.4, 0.25, 3, 2)
                                     for i, (cid, title) in enumerate(courses)]
        columns, rows = TABLES[name]
        return columns, rows

    return run


TABLES: dict[str, tuple[list[str], list[tuple]]] = {
    "dashboard_overview_enrolments": (["started", "active", "completed", "certified", "at_risk", "dropped"],
                                      [(1234, 321, 210, 99, 17, 8)]),
    "dashboard_overview_rates": (["completion_rate", "pass_rate", "certificate_conversion"], [(0.42, 0.37, 0.2)]),
    "dashboard_overview_courses": (["course", "course_id", "started", "active", "completion_rate", "pass_rate",
                                    "certificate_conversion", "at_risk", "dropped"], []),
    "dashboard_overview_active_learners": (["time", "active_learners"], [(t, 5 + i) for i, t in enumerate(HOURS)]),
    "dashboard_overview_statement_rate": (["time", "statements_per_min"],
                                          [(t, 1.5 * i) for i, t in enumerate(HOURS)]),
    "dashboard_overview_at_risk": (["learner", "course", "status", "last_seen", "inactive_s", "furthest_position",
                                    "time_on_task_s"],
                                   [(f"mailto:l{i}@example.com", "Course <A>", "at_risk", DAY + dt.timedelta(hours=i),
                                     86400.0 * i, i, 600 * i) for i in range(30)]),
    "dashboard_course_enrolments": (["started", "active", "completed", "passed", "certified", "at_risk", "dropped"],
                                    [(40, 10, 8, 7, 5, 3, 2)]),
    "dashboard_course_rates": (["completion_rate", "pass_rate", "certificate_conversion"], [(0.2, 0.175, 0.125)]),
    "dashboard_course_funnel": (["module", "reached", "dropped_here"], [("m1 & intro", 40, 5), ("m2", 30, 7)]),
    "dashboard_course_time_on_task": (["time_on_task", "learners"], [("<10 min", 4), ("10-30 min", 9)]),
    "dashboard_course_daily": (["time", "active_learners", "sessions", "hours_on_task"],
                               [(DAY + dt.timedelta(days=d), 3 + d, 5 + d, 1.5 * d) for d in range(3)]),
    "dashboard_course_cohort_retention": (["cohort_week", "cohort_size", "w0", "w1", "w2"],
                                          [(dt.date(2026, 3, 2), 30, 1.0, 0.5, None),
                                           (dt.date(2026, 3, 9), 10, 1.0, None, None)]),
    "dashboard_course_by_hour": (["hour_of_day", "statements"], [(str(h), 10 * h) for h in range(24)]),
    "dashboard_course_by_weekday": (["weekday", "statements", "sessions"],
                                    [(d, 10, 3) for d in ("Mon", "Tue", "Wed")]),
}
NOW = dt.datetime(2026, 3, 5, 12, 30, tzinfo=dt.UTC)
COURSES = [("c1", "Safety <first>"), ("c2", "Sales & service")]


def test_every_view_with_its_numbers() -> None:
    page = build_report(canned(COURSES), "brand-a", session_cap_s=1800, now=NOW)
    assert page.startswith("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    assert "<title>Brand learning report: brand-a</title>" in page and page.rstrip().endswith("</body></html>")
    assert "<div class='value'>1,234</div><div class='label'>enrolments</div>" in page
    assert "<div class='value'>42.0%</div><div class='label'>completion rate</div>" in page
    assert ("Activity from 2026-03-02 to 2026-03-04 (UTC), 12,345 counting statements; generated 2026-03-05 12:30 "
            "UTC.") in page
    assert "<section id='overview'><h2>Brand overview</h2>" in page
    assert "<nav>Courses: <a href='#course-1'>Safety &lt;first&gt;</a><a href='#course-2'>Sales &amp; service</a>" \
           "</nav>" in page
    assert "<section id='course-2'><h2>Course: Sales &amp; service</h2>" in page
    # 25 of the 30 at-risk learners, and a note for the rest.
    assert page.count("mailto:l") == 25 and "<p class='note'>5 more not shown</p>" in page
    assert "<td>1.0 d</td>" in page and "<td>10 min</td>" in page
    assert "<th>certificate conversion</th>" in page
    assert "Sessions end at gaps longer than 30 minutes." in page
    # Overview: 3 charts; per course: rates, funnel, time on task, hour, weekday, daily, retention.
    assert page.count("<svg") == 3 + 7 * len(COURSES)
    assert page.count("<figure><figcaption>") == page.count("<svg")


def test_values_are_escaped_and_charts_are_not() -> None:
    page = build_report(canned([("c<1>", "<script>alert(1)</script>")]), "<b>brand</b>", now=NOW)
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;b&gt;brand&lt;/b&gt;" in page
    assert "<td>Course &lt;A&gt;</td>" in page
    assert re.search(r"<figure><figcaption>Funnel by module</figcaption><svg[^>]*>", page)


def test_a_tenant_without_data_gets_empty_charts() -> None:
    page = build_report(canned([], empty=True), "nobody-yet", now=NOW)
    assert "Brand learning report: nobody-yet" in page and "no data in this range" in page
    assert "<nav>" not in page and "<section id='course-" not in page


def test_without_the_report_extra_lrs_report_names_it(tmp_path: Path) -> None:
    """With matplotlib not installed (a stand-in that fails to import), one line naming the extra, exit code 9."""
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ModuleNotFoundError('no matplotlib')\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LRS_")}
    done = subprocess.run([sys.executable, "-m", "lrs", "report", "--tenant", "t1"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**env, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"})
    assert done.returncode == ExitCode.NOT_INSTALLED == 9, done.stderr
    assert done.stderr.strip().splitlines() == [
        "lrs: error: `lrs report` needs matplotlib (the report extra): pip install 'xapi-stream-lrs[report]'"]
