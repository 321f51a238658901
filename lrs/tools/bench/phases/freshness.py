"""Phase ``freshness``: time from POST acknowledged to visible in the raw table and in the analytics tables."""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING, Any

import orjson

from lrs.tools.bench import corpus
from lrs.tools.bench.env import BenchEnv
from lrs.tools.bench.load import Body, FreshBodies, LoadResult, basic_headers, paced, run_load
from lrs.tools.bench.monitor import CpuMeter, machine_now
from lrs.tools.bench.phases.common import clickhouse_split, ingest_run
from lrs.tools.bench.report import Result, Target
from lrs.tools.bench.stats import rate, summarize
from lrs.tools.bench.targets import FRESHNESS_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Open-loop load at ``freshness_load`` of the rate the pipeline *stored* (the issue's basis) with requests of
    the size this load sends (100), sampled statements polled for in ClickHouse.

    Without an ingest phase in the run, a short batched run measures the stored rate first.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    if not suite.stored_rates.get(100):
        suite.console.print("no stored rate measured yet: measuring a short batched run first")
        tenant, key, secret = env.new_tenant("calib")
        start = time.perf_counter()
        calib, warmed = ingest_run(suite, suite.url, corpus.take(3000, seed=o.seed + 100), 100, o.clients,
                                   basic_headers(key, secret), salt=tenant)
        env.wait_stored(tenant, warmed + calib.statements_ok)
        suite.stored_rates[100] = rate(warmed + calib.statements_ok, time.perf_counter() - start)
        suite.max_stored_rate = max(suite.max_stored_rate, suite.stored_rates[100])
        suite.max_ingest_rate = suite.max_ingest_rate or rate(calib.statements_ok, calib.elapsed_s)
    suite.extra["freshness"] = {}
    offered = max(100.0, suite.load_basis(100) * o.freshness_load)
    _freshness_run(suite, "freshness", "x100 stored", offered, FRESHNESS_TARGET)


def samples_per_request(offered: float, per_request: int, seconds: float, wanted: int = 1_200) -> int:
    """Statements sampled per request so that a run gives about ``wanted`` samples (>= 1,000 for a p99)."""
    requests = max(1.0, offered / per_request * seconds)
    return max(1, min(per_request, math.ceil(wanted / requests)))


def open_loop_rows(suite: Suite, key_base: str, what: str, result: LoadResult, per_request: int,
                   info: dict[str, Any]) -> None:
    """The rows every open-loop run reports: offered vs achieved rate with dropped and failed requests, and the
    request latency from the intended send time (coordinated-omission corrected; failures included)."""
    offered = result.offered_per_s * per_request
    achieved = rate(result.statements_ok, result.elapsed_s)
    suite.add(Result(f"{key_base}.achieved", f"{what}: achieved statements/s (offered {offered:,.0f}/s; "
                     f"{result.due:,} requests due, {result.dropped:,} dropped, {result.failed:,} failed, "
                     f"{result.late:,} sent late)", "statements/s", achieved, details=info, samples=result.due))
    lat = result.latency.summary()
    suite.add(Result(f"{key_base}.latency_p99", f"{what}: request latency p99 from intended send "
                     f"(p50 {lat.p50:,.0f} ms; failures included)", "ms", lat.p99, samples=lat.count,
                     percentile=99))


def _freshness_run(suite: Suite, key_base: str, basis: str, offered: float, target: Target | None) -> None:
    env = suite.env
    assert env is not None
    o = suite.options
    per_request = 100
    tenant, key, secret = env.new_tenant("fresh")
    bodies = FreshBodies(corpus.take(20_000, seed=o.seed + 1), per_request, salt=tenant)
    probe = FreshnessProbe(env, tenant, per_body=samples_per_request(offered, per_request, o.freshness_seconds))
    machine = machine_now()
    window_start = time.time()
    with probe, CpuMeter(env.process_pids) as cpu:
        result = run_load(paced(suite.url, bodies, per_request=per_request, statements_per_s=offered,
                                   duration_s=o.freshness_seconds, headers=basic_headers(key, secret),
                                   on_ack=probe.acked))
        probe.drain(timeout=60)
    clickhouse_cpu = clickhouse_split(suite, window_start, time.time(), cpu.used_s.get("clickhouse"))
    s = summarize(probe.lags_ms())
    intended = summarize(probe.intended_lags_ms())
    info = {**result.as_details(), "offered_statements_per_s": round(offered), "basis": basis,
            "achieved_statements_per_s": round(rate(result.statements_ok, result.elapsed_s)),
            "freshness_ms": s.as_dict(), "intended_send_to_raw_ms": intended.as_dict(),
            "samples_per_request": probe.per_body, "poll_interval_ms": probe.interval * 1000,
            "unseen_samples": len(probe.pending), "latency_ms": summarize(result.latencies_ms).as_dict(),
            "machine": machine, "cpu": cpu.report(result.statements_ok), "clickhouse_cpu": clickhouse_cpu}
    suite.extra["freshness"][key_base] = info
    share = f"{o.freshness_load:.0%} of {basis}, {offered:,.0f}/s"
    open_loop_rows(suite, f"{key_base}.load", f"freshness load ({share})", result, per_request, info)
    suite.add(Result(f"{key_base}.p50", f"freshness ack -> raw table p50 ({share})", "ms", s.p50, details=info,
                     samples=s.count, percentile=50))
    suite.add(Result(f"{key_base}.p99", f"freshness ack -> raw table p99 ({share})", "ms", s.p99,
                     target=target, details=info, samples=s.count, percentile=99,
                     note=f"{len(probe.pending)} samples never seen" if probe.pending else ""))
    suite.add(Result(f"{key_base}.intended.p99", f"freshness intended send -> raw table p99 ({share})", "ms",
                     intended.p99, samples=intended.count, percentile=99,
                     note="coordinated-omission corrected: from when the request was due"))
    a = summarize(probe.analytics_lags_ms())
    info["analytics_freshness_ms"] = a.as_dict()
    info["analytics_refresh_s"] = env.settings.analytics_refresh_s
    suite.add(Result(f"{key_base}.analytics.p50", f"freshness ack -> analytics tables p50 ({share})", "ms", a.p50,
                     details=info, samples=a.count, percentile=50))
    suite.add(Result(f"{key_base}.analytics.p99", f"freshness ack -> analytics tables p99 ({share})", "ms", a.p99,
                     details=info, samples=a.count, percentile=99))


def sample_courses(body: Body, ids: list[str]) -> dict[str, str]:
    """The course of each sampled statement of ``body`` by the default course mapping ('' for none): what the
    sink writes as its ``course_id`` for a tenant without mapping rules, like the bench's."""
    from streams.mapping import map_course_module

    wanted = set(ids)
    parsed = orjson.loads(body.data)
    statements = parsed if isinstance(parsed, list) else [parsed]
    return {str(s["id"]): map_course_module(s)[0] for s in statements if s.get("id") in wanted}


class FreshnessProbe:
    """Samples ``per_body`` statements of each acknowledged request and polls ClickHouse until each is visible.

    Lags are measured from the acknowledgement (the issue's freshness) and from the request's intended send
    time (what a client waiting on the statement sees when the LRS is behind).

    "Visible" is in ``statements_by_stored_month``, the stored-time copy the sink's insert fills with ``statements``
    (what GET pages read), looked up within the stored times of the pending samples: a poll reads a few recent
    granules. Polling ``statements`` by id read one 8,192-row granule per id and part (2M rows a poll at 10M
    statements: a third of ClickHouse's CPU during the 10M analytics-freshness run went to the probe). A sample's
    course comes from its body (the default course mapping), not from the table.
    """

    STORED_MARGIN_S = 10.0  # stored times are read from this long before the oldest pending sample's send

    def __init__(self, env: BenchEnv, tenant: str, interval: float = 0.05, per_body: int = 1) -> None:
        self.env, self.tenant, self.interval, self.per_body = env, tenant, interval, per_body
        self.pending: dict[str, float] = {}
        self.intended: dict[str, float] = {}
        self.courses: dict[str, str] = {}  # sample id -> its course ('' for none)
        self.lags: list[float] = []
        self.intended_lags: list[float] = []
        # Raw-visible samples waiting for their course's analytics slice: id -> (acked, course, seen in raw, µs).
        self.pending_analytics: dict[str, tuple[float, str, int]] = {}
        self.analytics_lags: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="freshness-poller", daemon=True)

    def acked(self, body: Body, sent: float, acked: float) -> None:
        """Called by the load generator for each acknowledged request (``sent``: its intended send time)."""
        count = min(self.per_body, len(body.ids))
        step = len(body.ids) / count
        sampled = [body.ids[int(k * step + step / 2)] for k in range(count)]
        courses = sample_courses(body, sampled)
        with self._lock:
            for statement_id in sampled:
                self.pending[statement_id] = acked
                self.intended[statement_id] = sent
                self.courses[statement_id] = courses.get(statement_id, "")

    def _poll(self) -> None:
        client = self.env.new_clickhouse()
        sql = ("SELECT statement_id FROM statements_by_stored_month WHERE tenant = %(t)s AND stored_us >= %(since)s "
               "AND statement_id IN %(ids)s")
        slices_sql = "SELECT course_id, max(version) FROM analytics_slices WHERE tenant = %(t)s GROUP BY course_id"
        try:
            while not self._stop.is_set():
                with self._lock:
                    ids = tuple(self.pending)
                    oldest = min((self.intended.get(i, a) for i, a in self.pending.items()), default=0.0)
                if ids:
                    seen_at = time.time()
                    since = int((oldest - self.STORED_MARGIN_S) * 1_000_000)
                    found = client.execute(sql, {"t": self.tenant, "since": since, "ids": ids})
                    with self._lock:
                        for (statement_id,) in found:
                            course_id = self.courses.pop(str(statement_id), "")
                            acked = self.pending.pop(str(statement_id), None)
                            if acked is not None:
                                self.lags.append(max(0.0, seen_at - acked) * 1000)
                                sent = self.intended.pop(str(statement_id), acked)
                                self.intended_lags.append(max(0.0, seen_at - sent) * 1000)
                                if course_id:
                                    self.pending_analytics[str(statement_id)] = (acked, course_id,
                                                                                 int(seen_at * 1_000_000))
                if self.pending_analytics:
                    # A slice version is its recompute's start time: one that started after the statement was
                    # visible in the raw table includes it (an upper bound on the true lag).
                    now = time.time()
                    versions = dict(client.execute(slices_sql, {"t": self.tenant}))
                    with self._lock:
                        for statement_id, (acked, course, seen_us) in list(self.pending_analytics.items()):
                            if versions.get(course, 0) >= seen_us:
                                del self.pending_analytics[statement_id]
                                self.analytics_lags.append(max(0.0, now - acked) * 1000)
                self._stop.wait(self.interval)
        finally:
            client.disconnect()

    def drain(self, timeout: float) -> None:
        """Wait until every sampled statement was seen (or ``timeout``)."""
        deadline = time.monotonic() + timeout
        while (self.pending or self.pending_analytics) and time.monotonic() < deadline:
            time.sleep(0.1)

    def lags_ms(self) -> list[float]:
        """Ack-to-visible times seen so far (ms)."""
        with self._lock:
            return list(self.lags)

    def intended_lags_ms(self) -> list[float]:
        """Intended-send-to-visible times seen so far (ms)."""
        with self._lock:
            return list(self.intended_lags)

    def analytics_lags_ms(self) -> list[float]:
        """Ack-to-analytics-tables times seen so far (ms)."""
        with self._lock:
            return list(self.analytics_lags)

    def __enter__(self) -> FreshnessProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
