"""Phase ``freshness``: time from POST acknowledged to visible in the raw table and in the analytics tables."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench.env import BenchEnv
from lrs.tools.bench.load import Body, FreshBodies, basic_headers, paced
from lrs.tools.bench.phases.common import ingest_run
from lrs.tools.bench.report import Result, Target
from lrs.tools.bench.stats import rate, summarize
from lrs.tools.bench.targets import FRESHNESS_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Paced load at a share of the maximum ingest rate, one sampled statement per request polled for.

    Run twice: at the share of the best *acknowledged* rate (the issue's definition), and at the share of
    the best rate the whole pipeline *stored* (batched x1000, acknowledged and in ClickHouse). Acks can
    outrun the sink for a while, so the first load may be near what the 2 cores sustain end to end.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    if not suite.max_ingest_rate:
        suite.console.print("no ingest rate measured yet: measuring a short batched run first")
        tenant, key, secret = env.new_tenant("calib")
        calib, _ = ingest_run(suite, suite.url, corpus.take(3000, seed=o.seed + 100), 100, o.clients,
                              basic_headers(key, secret))
        suite.max_ingest_rate = rate(calib.statements_ok, calib.elapsed_s)
    runs = [("freshness", "max", suite.max_ingest_rate, FRESHNESS_TARGET)]
    if suite.max_stored_rate:
        runs.append(("freshness.sustained", "max stored", suite.max_stored_rate, None))
    suite.extra["freshness"] = {}
    for key_base, basis, max_rate, target in runs:
        _freshness_run(suite, key_base, basis, max(100.0, max_rate * o.freshness_load), target)


def _freshness_run(suite: Suite, key_base: str, basis: str, offered: float, target: Target | None) -> None:
    env = suite.env
    assert env is not None
    o = suite.options
    tenant, key, secret = env.new_tenant("fresh")
    bodies = FreshBodies(corpus.take(20_000, seed=o.seed + 1), 100, salt=tenant)
    probe = FreshnessProbe(env, tenant)
    with probe:
        result = asyncio.run(paced(suite.url, bodies, per_request=100, statements_per_s=offered,
                                   duration_s=o.freshness_seconds, headers=basic_headers(key, secret),
                                   on_ack=probe.acked))
        probe.drain(timeout=60)
    lags = probe.lags_ms()
    s = summarize(lags)
    info = {**result.as_details(), "offered_statements_per_s": round(offered), "basis": basis,
            "achieved_statements_per_s": round(rate(result.statements_ok, result.elapsed_s)),
            "freshness_ms": s.as_dict(), "poll_interval_ms": probe.interval * 1000,
            "unseen_samples": len(probe.pending), "latency_ms": summarize(result.latencies_ms).as_dict()}
    suite.extra["freshness"][key_base] = info
    share = f"{o.freshness_load:.0%} of {basis}, {offered:,.0f}/s"
    suite.add(Result(f"{key_base}.p50", f"freshness ack -> raw table p50 ({share})", "ms", s.p50, details=info))
    suite.add(Result(f"{key_base}.p99", f"freshness ack -> raw table p99 ({share})", "ms", s.p99,
                     target=target, details=info))
    a = summarize(probe.analytics_lags_ms())
    info["analytics_freshness_ms"] = a.as_dict()
    info["analytics_refresh_s"] = env.settings.analytics_refresh_s
    suite.add(Result(f"{key_base}.analytics.p50", f"freshness ack -> analytics tables p50 ({share})", "ms", a.p50,
                     details=info))
    suite.add(Result(f"{key_base}.analytics.p99", f"freshness ack -> analytics tables p99 ({share})", "ms", a.p99,
                     details=info))


class FreshnessProbe:
    """Samples one statement per acknowledged request and polls ClickHouse until each is visible."""

    def __init__(self, env: BenchEnv, tenant: str, interval: float = 0.05) -> None:
        self.env, self.tenant, self.interval = env, tenant, interval
        self.pending: dict[str, float] = {}
        self.lags: list[float] = []
        # Raw-visible samples waiting for their course's analytics slice: id -> (acked, course, seen in raw, µs).
        self.pending_analytics: dict[str, tuple[float, str, int]] = {}
        self.analytics_lags: list[float] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="freshness-poller", daemon=True)

    def acked(self, body: Body, sent: float, acked: float) -> None:
        """Called by the load generator for each acknowledged request."""
        with self._lock:
            self.pending[body.ids[len(body.ids) // 2]] = acked

    def _poll(self) -> None:
        client = self.env.new_clickhouse()
        sql = "SELECT statement_id, course_id FROM statements WHERE tenant = %(t)s AND statement_id IN %(ids)s"
        slices_sql = "SELECT course_id, max(version) FROM analytics_slices WHERE tenant = %(t)s GROUP BY course_id"
        try:
            while not self._stop.is_set():
                with self._lock:
                    ids = tuple(self.pending)
                if ids:
                    seen_at = time.time()
                    found = client.execute(sql, {"t": self.tenant, "ids": ids})
                    with self._lock:
                        for statement_id, course_id in found:
                            acked = self.pending.pop(str(statement_id), None)
                            if acked is not None:
                                self.lags.append(max(0.0, seen_at - acked) * 1000)
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
