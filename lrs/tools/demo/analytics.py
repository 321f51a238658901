"""The demo's analytics part: declare the cohort's course structure, wait until the analytics are fresh,
print the per-course summary from the public ``course_summary`` view."""

from __future__ import annotations

import datetime as dt
import time

import httpx
from rich.console import Console
from rich.table import Table

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse
from lrs.tools.demo.cohort import Cohort, course_structure
from streams.analytics import clock_us


def declare_structure(base_url: str, auth: tuple[str, str], cohort: Cohort) -> None:
    """PUT the courses' ordered modules, so the funnel follows the declared order."""
    response = httpx.put(f"{base_url}/api/courses/structure", json=course_structure(cohort), auth=auth, timeout=30)
    if response.status_code != 200:
        raise SystemExit(f"the LRS refused the course structure: {response.status_code} {response.text[:300]}")


def fresh(settings: Settings, clickhouse: ClickHouse, tenant: str) -> bool:
    """True once every course's analytics count all its stored statements at the tenant's current clock."""
    raw = dict(clickhouse.run("analytics_course_statements", {"tenant": tenant}))
    clock = clock_us(settings, clickhouse, tenant)
    live = {course: (count, watermark) for course, count, watermark in
            clickhouse.run("analytics_engagement_totals", {"tenant": tenant})}
    return bool(raw) and all(live.get(course) == (count, clock) for course, count in raw.items())


def wait_fresh(settings: Settings, clickhouse: ClickHouse, tenant: str, timeout: float = 300) -> float:
    """Wait until the analytics caught up with the raw statements; return the seconds it took."""
    start = time.perf_counter()
    while not fresh(settings, clickhouse, tenant):
        if time.perf_counter() - start > timeout:
            raise SystemExit(f"the analytics were not fresh within {timeout}s; see .lrs/logs/worker.log")
        time.sleep(0.5)
    return time.perf_counter() - start


def print_analytics_summary(clickhouse: ClickHouse, tenant: str, cohort: Cohort, console: Console) -> None:
    """Per course: started, active in the last 7 days, completion rate, at risk, dropped, main drop-off module."""
    names = {c.id: c.name for c in cohort.courses}
    modules = {m.id: m.name for c in cohort.courses for m in c.modules}
    table = Table("course", "started", "active 7d", "completed", "at risk", "dropped", "top drop-off (learners)")
    clock = None
    for (course_id, started, active, completion, at_risk, dropped, module_id, _position, module_dropped,
         watermark_us) in clickhouse.run("demo_analytics_summary", {"tenant": tenant}):
        clock = watermark_us
        where = f"{modules.get(module_id, module_id)} ({module_dropped})" if module_id else "-"
        table.add_row(names.get(course_id, course_id), f"{started:,}", f"{active:,}", f"{completion:.1%}",
                      f"{at_risk:,}", f"{dropped:,}", where)
    console.print(table)
    if clock is not None:
        when = dt.datetime.fromtimestamp(clock / 1_000_000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        console.print(f"statuses at event time {when} (latest statement less the allowed lateness); "
                      "definitions in docs/metrics.md")
