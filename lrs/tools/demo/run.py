"""``lrs demo``: the main job on the embedded stack, from an empty machine to a summary."""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from tenacity import Retrying, retry_if_result, stop_after_attempt

from lrs.core.config import Settings
from lrs.core.retry import jittered_backoff
from lrs.core.store.clickhouse import ClickHouse
from lrs.service.auth.credentials import CredentialStore
from lrs.tools.cli_errors import CliFailure
from lrs.tools.demo.analytics import declare_structure, print_analytics_summary, wait_fresh
from lrs.tools.demo.cohort import Cohort, generate_cohort
from lrs.tools.stack.stack import LocalStack

BATCH = 500


def _serving(settings: Settings) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{settings.http_port}/xapi/about", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _start_app_processes(settings: Settings, console: Console) -> None:
    """Start ``lrs serve`` and ``lrs worker`` in the background unless an LRS already answers."""
    if _serving(settings):
        console.print(f"LRS already serving on port {settings.http_port}; using it")
        return
    stack = LocalStack(settings)
    for name, args in (("lrs", ["serve"]), ("worker", ["worker"])):
        stack.start_app_process(name, [sys.executable, "-m", "lrs", *args], env=dict(os.environ))
    deadline = time.monotonic() + 30
    while not _serving(settings):
        if time.monotonic() > deadline:
            raise SystemExit(f"the LRS did not start; see {Path(settings.state_dir) / 'logs' / 'lrs.log'}")
        time.sleep(0.2)


def _send(cohort: Cohort, base_url: str, auth: tuple[str, str], console: Console) -> float:
    """POST the cohort in batches with a progress bar; return the seconds it took."""
    batches = [cohort.statements[i:i + BATCH] for i in range(0, len(cohort.statements), BATCH)]
    headers = {"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"}
    start = time.perf_counter()
    with httpx.Client(base_url=base_url, auth=auth, headers=headers, timeout=60) as http, Progress(
        TextColumn("sending statements"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("send", total=len(cohort.statements))

        # A 503 (broker busy or briefly away) is retried, with jitter so the four senders spread out.
        send_batch = Retrying(stop=stop_after_attempt(5), wait=jittered_backoff(1.0, 8.0),
                              retry=retry_if_result(lambda r: r.status_code == 503),
                              retry_error_callback=lambda state: state.outcome.result())

        def post(batch: list[dict]) -> int:
            response = send_batch(http.post, "/xapi/statements", json=batch)
            if response.status_code != 200:
                raise SystemExit(f"LRS refused a batch: {response.status_code} {response.text[:300]}")
            return len(batch)

        with ThreadPoolExecutor(max_workers=4) as pool:
            for sent in pool.map(post, batches):
                progress.advance(task, sent)
    return time.perf_counter() - start


def _wait_stored(clickhouse: ClickHouse, tenant: str, expected: int, timeout: float = 300) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if clickhouse.run("tenant_totals", {"tenant": tenant})[0][0] >= expected:
            return time.perf_counter() - start
        time.sleep(0.25)
    raise SystemExit(f"the pipeline did not store {expected} statements within {timeout}s; see .lrs/logs")


def run_demo(settings: Settings, *, learners: int, tenant: str, seed: int, console: Console) -> None:
    """Stack up, migrate, run LRS + worker, send a generated cohort, print what ClickHouse holds."""
    console.rule("[bold]1. local stack")
    stack = LocalStack(settings)
    stack.up()
    stack.migrate()
    _start_app_processes(settings, console)
    console.print(f"broker 127.0.0.1:{settings.broker_port}, ClickHouse 127.0.0.1:{settings.clickhouse_tcp_port}, "
                  f"LRS http://127.0.0.1:{settings.http_port}/xapi")

    console.rule("[bold]2. cohort")
    clickhouse = ClickHouse(settings, size=2)
    key, secret = CredentialStore(settings, clickhouse).create(tenant, name="demo platform")
    cohort = generate_cohort(brand=tenant, learners=learners, seed=seed)
    console.print(f"tenant {tenant!r} (key {key}); {cohort.learners} learners, {len(cohort.courses)} courses, "
                  f"{len(cohort.statements)} statements")

    declare_structure(f"http://127.0.0.1:{settings.http_port}", (key, secret), cohort)
    console.rule("[bold]3. send through the LRS")
    send_s = _send(cohort, f"http://127.0.0.1:{settings.http_port}", (key, secret), console)
    drain_s = _wait_stored(clickhouse, tenant, len(cohort.statements))
    console.print(f"acknowledged {len(cohort.statements)} statements in {send_s:.1f}s "
                  f"({len(cohort.statements) / send_s:,.0f}/s); all in ClickHouse {drain_s:.1f}s later")

    console.rule("[bold]4. summary (read back from ClickHouse)")
    print_summary(clickhouse, tenant, cohort, console)
    fresh_s = wait_fresh(settings, clickhouse, tenant)
    console.rule("[bold]5. engagement and drop-off (analytics views)")
    console.print(f"analytics fresh {fresh_s:.1f}s after the raw table had every statement")
    print_analytics_summary(clickhouse, tenant, cohort, console)
    console.rule("[bold]6. report")
    try:
        from lrs.tools.report.html import clickhouse_runner, write_report
    except CliFailure as missing:  # the report extra is not installed: the demo itself is done
        console.print(f"no report: {missing.message}")
    else:
        report = write_report(clickhouse_runner(settings), tenant, Path(settings.state_dir) / "reports",
                              session_cap_s=int(settings.analytics_session_cap_s))
        console.print(f"brand report (open in a browser): {report.resolve()}")
    console.print("Stop everything with [bold]lrs stack down[/bold].")


def print_summary(clickhouse: ClickHouse, tenant: str, cohort: Cohort, console: Console) -> None:
    """Totals and per-course counts of a tenant, checked against what was generated."""
    statements, voided, learners, distinct = clickhouse.run("tenant_totals", {"tenant": tenant})[0]
    generated = len(cohort.statements)
    verdict = "[green]every generated statement stored exactly once[/green]" if (
        statements == distinct == generated) else f"[red]expected {generated}[/red]"
    console.print(f"statements stored: {statements:,} (distinct ids {distinct:,}, voided {voided}) - {verdict}")
    console.print(f"learners: {learners:,}")
    names = {c.id: c.name for c in cohort.courses}
    table = Table("course", "statements", "learners")
    for course_id, count, course_learners in clickhouse.run("demo_summary", {"tenant": tenant}):
        table.add_row(names.get(course_id, course_id or "(no course)"), f"{count:,}", f"{course_learners:,}")
    console.print(table)
