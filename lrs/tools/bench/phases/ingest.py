"""Phase ``ingest``: batched POSTs (100 and 1,000 per request, N clients) and single-statement POSTs."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench.load import basic_headers
from lrs.tools.bench.monitor import CpuMeter
from lrs.tools.bench.phases.common import ingest_run
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import rate, summarize
from lrs.tools.bench.targets import BATCHED_TARGET, SINGLE_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Each run on its own tenant, timed until every acknowledged statement is stored; CPU of every process.

    Sets ``suite.max_ingest_rate`` (best acknowledged batched rate) and ``suite.max_stored_rate`` (batched x1000,
    acknowledged and stored) for the phases whose load is a share of them.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    statements = corpus.take(max(o.ingest_statements, o.single_requests), seed=o.seed)
    runs = [(100, o.clients, statements[: o.ingest_statements]),
            (1000, o.clients, statements[: o.ingest_statements]),
            (1, o.single_concurrency, statements[: o.single_requests])]
    details = {}
    for per_request, concurrency, chunk in runs:
        tenant, key, secret = env.new_tenant("ingest")
        start = time.perf_counter()
        with CpuMeter(env.process_pids) as cpu:  # until stored: the worker's and ClickHouse's share too
            result, warmed = ingest_run(suite, suite.url, chunk, per_request, concurrency, basic_headers(key, secret))
            accepted = warmed + result.statements_ok
            drained = env.wait_stored(tenant, accepted)
        end_to_end = time.perf_counter() - start
        latency = summarize(result.latencies_ms)
        label = "single-statement POST" if per_request == 1 else f"batched POST x{per_request}"
        if per_request == 1:
            value, unit, target = rate(result.ok, result.elapsed_s), "requests/s", SINGLE_TARGET
            metric = f"{label}, concurrency {concurrency}"
        else:
            value, unit, target = rate(result.statements_ok, result.elapsed_s), "statements/s", BATCHED_TARGET
            metric = f"{label}, {concurrency} clients"
            suite.max_ingest_rate = max(suite.max_ingest_rate, value)
        key_base = "ingest.single" if per_request == 1 else f"ingest.batch{per_request}"
        info = {**result.as_details(), "latency_ms": latency.as_dict(), "stored_after_s": round(drained, 2),
                "end_to_end_s": round(end_to_end, 2), "cpu": cpu.report(accepted)}
        details[key_base] = info
        suite.add(Result(f"{key_base}.rate", metric, unit, value, target=target, details=info))
        suite.add(Result(f"{key_base}.latency_p50", f"{label}: latency p50", "ms", latency.p50))
        suite.add(Result(f"{key_base}.latency_p99", f"{label}: latency p99", "ms", latency.p99))
        shares = ", ".join(f"{name} {v['cpu_ms_per_1000_statements']:,.0f}"
                           for name, v in info["cpu"]["processes"].items() if v["cpu_s"] > 0)
        suite.add(Result(f"{key_base}.cpu_per_1000", f"{label}: CPU ms per 1,000 statements stored ({shares})", "ms",
                         info["cpu"]["cpu_ms_per_1000_statements"], details=info["cpu"]))
        if per_request == 1000:
            stored_rate = rate(accepted, end_to_end)
            suite.max_stored_rate = max(suite.max_stored_rate, stored_rate)
            suite.add(Result("ingest.batch1000.stored_rate", "batched x1000: acknowledged and stored in ClickHouse",
                             "statements/s", stored_rate,
                             note="from the first request until the last statement is in the raw table"))
    suite.extra["ingest"] = details
