"""Step of the ``queries`` phase: the analytics of the big tenant, whose history is ``query_rows`` statements.

- ``analytics backfill of a <size> tenant``: ``lrs analytics refresh``, until the worker has every course.
- ``analytics rows read per 1,000 statements (history <size>)`` and ``analytics CPU ms per 1,000 statements
  (history <size>)``: new statements of learners already in the history, written straight into ``statements``,
  then the refresh's own work for them run here, batch by batch, as a worker runs it (the learners' rows, each
  touched course derived, the tenant's other courses following the clock). Rows read come from ClickHouse's
  query log (this step's connections have their own ``client_name``); CPU is this process's plus the ClickHouse
  server's over the step.
- ``analytics freshness p99 (history <size>)``: statements POSTed into the big tenant at a share of the stored
  ingest rate, from acknowledgement until the course's analytics version includes them (as the freshness phase).
  It starts once ClickHouse has no merge running (at most ``MERGES_WAIT_S``): the history was generated into it in
  minutes, and merging those parts is not what a deployment that gathered it over weeks does while it ingests.
  The CPU of every process over the measured run (and its drain) is in the row's details.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrs.core.util.timeparse import format_timestamp, timestamp_micros
from lrs.tools.bench import corpus
from lrs.tools.bench.env import wait_until
from lrs.tools.bench.load import FreshBodies, basic_headers, paced, run_load
from lrs.tools.bench.monitor import QUERY_CPU_US, CpuMeter
from lrs.tools.bench.phases.common import QueryData, clickhouse_split
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import rate, summarize
from lrs.tools.bench.targets import ANALYTICS_FRESHNESS_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite

REPLAY_CLIENT = "lrs-bench-analytics"
REPLAY_STATEMENTS = 5_000
REPLAY_BATCH = 1_000  # about what a refresh round merges under load
MERGES_WAIT_S = 900.0  # longest wait for the generated history's merges before the freshness run
MERGES_QUIET_S = 5.0  # no merge for this long: settled


def wait_for_merges(suite: Suite) -> float:
    """Seconds waited until ClickHouse ran no merge for ``MERGES_QUIET_S`` (at most ``MERGES_WAIT_S``)."""
    assert suite.env is not None
    client = suite.env.new_clickhouse()
    started = quiet_since = time.monotonic()
    try:
        while time.monotonic() - started < MERGES_WAIT_S:
            if int(client.execute("SELECT count() FROM system.merges")[0][0]):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= MERGES_QUIET_S:
                break
            time.sleep(0.5)
    finally:
        client.disconnect()
    return round(time.monotonic() - started, 1)


def run(suite: Suite, data: QueryData) -> None:
    """Backfill, then the incremental cost and freshness on top of the tenant's history."""
    analytics = refresh_analytics(suite, data.tenant, suite.options.analytics_wait_s)
    data.info["analytics_refresh"] = analytics
    if analytics.get("seconds") is not None:
        suite.add(
            Result(
                "queries.analytics_backfill",
                f"analytics backfill of a {data.size} tenant ({analytics['courses']} courses, by the worker)",
                "s",
                analytics["seconds"],
                details=analytics,
            )
        )
    for step in (replay, history_freshness):
        try:
            step(suite, data)
        except Exception as exc:  # a failed measurement is reported, the suite goes on
            suite.errors.append(f"analytics {step.__name__}: {type(exc).__name__}: {exc}")


def refresh_analytics(suite: Suite, tenant: str, timeout: float) -> dict[str, Any]:
    """``lrs analytics refresh`` for ``tenant`` and wait (bounded) until every course slice is computed.

    Rows generated straight into ``statements`` bypass the worker, so the analytics tables the dashboards read
    would otherwise be empty for this tenant.
    """
    env = suite.env
    assert env is not None
    client = env.clickhouse()
    courses = int(
        client.execute(
            "SELECT uniqExact(course_id) FROM statements WHERE tenant = %(t)s AND course_id != ''", {"t": tenant}
        )[0][0]
    )
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lrs", "analytics", "refresh", "--tenant", tenant],
        env=env.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        return {"courses": courses, "seconds": None, "error": (done.stdout + done.stderr)[-500:]}

    def computed() -> bool:
        rows = client.execute(
            "SELECT count() FROM analytics_slices FINAL WHERE tenant = %(t)s AND computed_us >= %(s)s",
            {"t": tenant, "s": int((time.time() - (time.perf_counter() - start)) * 1_000_000)},
        )
        return int(rows[0][0]) >= courses

    try:
        wait_until(computed, timeout, interval=1.0, what="the analytics recompute")
    except RuntimeError as exc:
        return {"courses": courses, "seconds": None, "error": str(exc)}
    return {"courses": courses, "seconds": round(time.perf_counter() - start, 1)}


def _server_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process so far (0 if unknown)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _new_statements(suite: Suite, count: int) -> list[dict[str, Any]]:
    """``count`` statements of learners of the history (its first chunk), later than the history, new ids."""
    out = []
    for statement in corpus.take(count, seed=suite.options.seed + 20):
        moved = dict(statement)
        moved["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"replay|{statement['id']}"))
        stamp = datetime.fromtimestamp(timestamp_micros(statement["timestamp"]) / 1e6, UTC)
        moved["timestamp"] = format_timestamp(stamp + timedelta(days=90))
        out.append(moved)
    return out


def replay(suite: Suite, data: QueryData) -> None:
    """Rows read and CPU of the refresh's work per 1,000 new statements on top of the history."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.core.store.queries import query
    from streams.refresh import SliceRefresher
    from streams.rows import COL

    env = suite.env
    assert env is not None
    settings = env.settings
    statements = _new_statements(suite, REPLAY_STATEMENTS)
    rows = corpus.raw_rows(statements, tenant=data.tenant, client_key=data.key)
    pool = ClickHouse(settings, size=2, client_name=REPLAY_CLIENT, log_queries=True)
    refresher = SliceRefresher(settings, pool)
    client = env.new_clickhouse()
    server = env.process_pids().get("clickhouse")
    insert = query("statements_insert").sql
    cpu = server_cpu = 0.0
    # The worker that owns a course holds it in memory from its first round on: load the courses before counting.
    courses = [c for (c,) in client.execute("SELECT DISTINCT course_id FROM learner_state WHERE tenant = %(t)s",
                                            {"t": data.tenant})]
    if not courses:
        raise RuntimeError("the query tenant has no learner rows: its analytics backfill did not run")
    refresher.publish_all(refresher.derive_tenant(data.tenant, courses, refresher.tenant_clock(data.tenant)))
    # The server's CPU is counted: merges of earlier phases' data running meanwhile would be counted with it.
    merges_wait_s = wait_for_merges(suite)
    started_s = int(time.time())
    try:
        for first in range(0, len(rows), REPLAY_BATCH):
            batch = rows[first : first + REPLAY_BATCH]
            client.execute(insert, batch)  # the sink's write (not counted)
            touched: dict[str, tuple[dict[str, set[str]], set[str]]] = {data.tenant: ({}, set())}
            for row in batch:
                touched[data.tenant][0].setdefault(row[COL["course_id"]], set()).add(row[COL["actor_ifi"]])
            cpu0, server0 = time.process_time(), _server_cpu_s(server)
            work = {course: learners for (_, course), learners in refresher.dirty_learners(touched).items()}
            refresher.update_tenant(data.tenant, dict(work), refresher_now())
            clock = refresher.tenant_clock(data.tenant)
            refresher.publish_all(refresher.derive_tenant(data.tenant, work, clock))
            lagging = [course for _, course in refresher.lagging_slices(data.tenant, clock)]
            if lagging:
                refresher.publish_all(refresher.derive_tenant(data.tenant, lagging, clock))
            cpu += time.process_time() - cpu0
            server_cpu += _server_cpu_s(server) - server0
        client.execute("SYSTEM FLUSH LOGS")
        read_rows, queries, duration_ms, query_cpu_us = client.execute(
            f"SELECT sum(read_rows), count(), sum(query_duration_ms), sum({QUERY_CPU_US}) FROM system.query_log "
            "WHERE type = 2 AND client_name = %(c)s AND event_date >= toDate(toDateTime(%(s)s)) "
            "AND event_time >= toDateTime(%(s)s)",
            {"c": REPLAY_CLIENT, "s": started_s},
        )[0]
        # Where the rows and the time went: per kind of statement (its first words), heaviest first.
        by_query = client.execute(
            "SELECT substring(replaceRegexpAll(query, '[[:space:]]+', ' '), 1, 80) AS q, count(), sum(read_rows), "
            "sum(written_rows), sum(query_duration_ms) FROM system.query_log "
            "WHERE type = 2 AND client_name = %(c)s AND event_date >= toDate(toDateTime(%(s)s)) "
            "AND event_time >= toDateTime(%(s)s) GROUP BY q ORDER BY sum(query_duration_ms) DESC LIMIT 12",
            {"c": REPLAY_CLIENT, "s": started_s},
        )
    finally:
        client.disconnect()
        pool.close()
    per_k = len(rows) / 1000
    info = {
        "statements": len(rows),
        "batch": REPLAY_BATCH,
        "queries": int(queries),
        "read_rows": int(read_rows),
        "clickhouse_query_ms": int(duration_ms),
        "worker_cpu_ms": round(cpu * 1000),
        "clickhouse_cpu_ms": round(server_cpu * 1000),
        # The refresh's own queries (their threads), without the merges of the rows they wrote.
        "clickhouse_query_cpu_ms": round(int(query_cpu_us) / 1000),
        "merges_wait_s": merges_wait_s,
        "learners": len({r[COL["actor_ifi"]] for r in rows}),
        "by_query": [{"query": q, "count": int(n), "read_rows": int(r), "written_rows": int(w), "ms": int(ms)}
                     for q, n, r, w, ms in by_query],
    }
    data.info["analytics_replay"] = info
    suite.add(
        Result(
            f"queries.analytics_rows_read_{data.size}",
            f"analytics rows read per 1,000 statements (history {data.size})",
            "rows",
            round(int(read_rows) / per_k),
            details=info,
            note="from system.query_log; batches of 1,000 statements of learners in the history",
        )
    )
    suite.add(
        Result(
            f"queries.analytics_cpu_{data.size}",
            f"analytics CPU ms per 1,000 statements (history {data.size})",
            "ms",
            round((cpu + server_cpu) * 1000 / per_k, 1),
            details=info,
            note="refresh process + ClickHouse server",
        )
    )


def refresher_now() -> int:
    """A learner row version (the refresh uses its start time in microseconds)."""
    return int(time.time() * 1_000_000)


def history_freshness(suite: Suite, data: QueryData) -> None:
    """Ack -> analytics tables while statements stream into the big tenant at a share of the stored rate."""
    from lrs.tools.bench.phases.freshness import FreshnessProbe

    env = suite.env
    assert env is not None
    o = suite.options
    basis = suite.load_basis(100)  # its requests hold 100 statements
    offered = max(100.0, basis * o.freshness_load)
    # Learners of the history, timestamped by the LRS as they arrive (no timestamp): the tenant's clock moves with
    # every batch, as in a live campaign, so every course follows it.
    templates = [{k: v for k, v in s.items() if k != "timestamp"} for s in corpus.take(20_000, seed=o.seed + 20)]
    # Warm-up at the same rate, not measured, until the analytics caught up: a worker loads each course it owns
    # into memory once (streams/course_state.py), and a live deployment runs warm. How long that took is reported.
    merges_wait_s = wait_for_merges(suite)
    warm = FreshnessProbe(env, data.tenant)
    started = time.perf_counter()
    with warm:
        run_load(paced(suite.url, FreshBodies(templates, 100, salt=data.tenant + "-warm"), per_request=100,
                          statements_per_s=offered, duration_s=min(10.0, o.freshness_seconds),
                          headers=basic_headers(data.key, data.secret), on_ack=warm.acked))
        # Loading a course into memory grows with its learners: 10M statements needed minutes, not 120 s.
        warm.drain(timeout=120 + 60 * data.rows / 1_000_000)
    warm_up_s = round(time.perf_counter() - started, 1)
    warm_drained = not (warm.pending or warm.pending_analytics)
    bodies = FreshBodies(templates, 100, salt=data.tenant)
    probe = FreshnessProbe(env, data.tenant)
    window_start = time.time()
    with probe, CpuMeter(env.process_pids) as cpu:
        result = run_load(
            paced(
                suite.url,
                bodies,
                per_request=100,
                statements_per_s=offered,
                duration_s=o.freshness_seconds,
                headers=basic_headers(data.key, data.secret),
                on_ack=probe.acked,
            )
        )
        probe.drain(timeout=60)
    window_end = time.time()
    a = summarize(probe.analytics_lags_ms())
    info = {
        "offered_statements_per_s": round(offered),
        "basis_statements_per_s": round(basis),
        "achieved_statements_per_s": round(rate(result.statements_ok, result.elapsed_s)),
        "analytics_freshness_ms": a.as_dict(),
        "raw_freshness_ms": summarize(probe.lags_ms()).as_dict(),
        "unseen_samples": len(probe.pending) + len(probe.pending_analytics),
        "warm_up_s": warm_up_s,
        "warm_up_drained": warm_drained,
        "warm_up_analytics_freshness_ms": summarize(warm.analytics_lags_ms()).as_dict(),
        "merges_wait_s": merges_wait_s,
        "cpu": cpu.report(result.statements_ok),
        "clickhouse_cpu": clickhouse_split(suite, window_start, window_end, cpu.used_s.get("clickhouse")),
    }
    data.info["analytics_history_freshness"] = info
    suite.add(
        Result(
            f"queries.analytics_freshness_{data.size}.p99",
            f"analytics freshness p99 (history {data.size})",
            "ms",
            a.p99,
            target=ANALYTICS_FRESHNESS_TARGET,
            details=info,
            note=f"{o.freshness_load:.0%} of the stored ingest rate, {offered:,.0f}/s, after a {warm_up_s} s warm-up"
            + ("" if warm_drained else " that had not caught up"),
        )
    )
