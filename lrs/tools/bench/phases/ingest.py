"""Phase ``ingest``: batched POSTs (100 and 1,000 per request, N clients) and single-statement POSTs.

Each rate row is what was *stored*: statements acknowledged and readable in ClickHouse's raw table, from the
run's first request until the last of them is there (the issue's like-with-like measure). The acknowledged rate
(client side only) has its own row. Every run keeps its CPU time per process and the machine's speed and load.
A run's CPU is counted until the servers are idle again, so the merges and analytics its statements cause are
its own, and the next run starts on a quiet machine.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lrs.tools.bench import corpus
from lrs.tools.bench.load import LoadResult, basic_headers
from lrs.tools.bench.monitor import CpuMeter, machine_now
from lrs.tools.bench.phases.common import clickhouse_split, ingest_run, short_run
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import median_run, rate, summarize
from lrs.tools.bench.targets import (
    BATCH100_TARGET,
    BATCHED_CPU_TARGET,
    BATCHED_TARGET,
    SINGLE_CPU_TARGET,
    SINGLE_TARGET,
)

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Each configuration ``--ingest-repeats`` times, each run on its own tenant, timed until every acknowledged
    statement is stored; CPU of every process. The rows show the run with the median stored rate (its figures
    together, not medians taken apart) and list every run's rate and CPU.

    Sets ``suite.max_ingest_rate`` (best acknowledged batched rate) and ``suite.max_stored_rate`` (best stored
    batched rate, of the median runs) for the phases whose load is a share of them.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    statements = corpus.take(max(o.ingest_statements, o.single_requests), seed=o.seed)
    configurations = [(100, o.clients, statements[: o.ingest_statements], BATCH100_TARGET, None),
                      (1000, o.clients, statements[: o.ingest_statements], BATCHED_TARGET, BATCHED_CPU_TARGET),
                      (1, o.single_concurrency, statements[: o.single_requests], SINGLE_TARGET, SINGLE_CPU_TARGET)]
    details = {}
    for per_request, concurrency, chunk, target, cpu_target in configurations:
        runs = [_measured_run(suite, per_request, concurrency, chunk) for _ in range(max(1, o.ingest_repeats))]
        median = median_run(runs, "stored_per_s")
        result: LoadResult = median.pop("result")  # the other runs' results are not reported
        single = per_request == 1
        label = "single-statement POST" if single else f"batched POST x{per_request}"
        metric = f"{label}, concurrency {concurrency}" if single else f"{label}, {concurrency} clients"
        unit = "requests/s" if single else "statements/s"
        stored, acked = median["stored_per_s"], median["acknowledged_per_s"]
        if not single:
            suite.max_ingest_rate = max(suite.max_ingest_rate, acked)
            suite.max_stored_rate = max(suite.max_stored_rate, stored)
            suite.stored_rates[per_request] = stored
        key_base = "ingest.single" if single else f"ingest.batch{per_request}"
        info = {**median, "runs": [{k: r[k] for k in ("stored_per_s", "acknowledged_per_s", "end_to_end_s",
                                                     "settled_after_stored_s")}
                                   | {"cpu_ms_per_1000_statements": r["cpu"]["cpu_ms_per_1000_statements"]}
                                   for r in runs]}
        details[key_base] = info
        short = median["short_run"]
        of_runs = "" if len(runs) == 1 else (
            f" [median of {len(runs)} runs: " + " / ".join(f"{r['stored_per_s']:,.0f}" for r in runs) + "]")
        suite.add(Result(f"{key_base}.rate", f"{metric}: stored in ClickHouse{of_runs}", unit, stored,
                         target=target, details=info, samples=result.requests, short=short,
                         note="from the first request until the last statement is in the raw table"))
        suite.add(Result(f"{key_base}.acked_rate", f"{metric}: acknowledged (client side)", unit, acked,
                         samples=result.requests, short=short))
        latency = summarize(result.latencies_ms)
        suite.add(Result(f"{key_base}.latency_p50", f"{label}: latency p50", "ms", latency.p50,
                         samples=latency.count, percentile=50))
        suite.add(Result(f"{key_base}.latency_p99", f"{label}: latency p99", "ms", latency.p99,
                         samples=latency.count, percentile=99))
        # Each process's share, and of it the kernel's (system time: zeroing fresh pages, creating files).
        shares = ", ".join(f"{name} {v['cpu_ms_per_1000_statements']:,.0f} "
                           f"(kernel {v['system_ms_per_1000_statements']:,.0f})"
                           for name, v in info["cpu"]["processes"].items() if v["cpu_s"] > 0)
        cpus = "" if len(runs) == 1 else (
            "; runs: " + " / ".join(f"{r['cpu']['cpu_ms_per_1000_statements']:,.0f}" for r in runs))
        settled = median["settled_after_stored_s"]
        suite.add(Result(f"{key_base}.cpu_per_1000", f"{label}: CPU ms per 1,000 statements stored ({shares}{cpus})",
                         "ms", info["cpu"]["cpu_ms_per_1000_statements"], target=cpu_target, details=info["cpu"],
                         short=short, note="from the first request until the servers were idle again: the run's "
                         "merges and analytics refresh included" if settled is not None else
                         "from the first request until 60 s after the last statement was stored (never idle)"))
    suite.extra["ingest"] = details


def _measured_run(suite: Suite, per_request: int, concurrency: int, chunk: list[dict[str, Any]]) -> dict[str, Any]:
    """One run on a new tenant: its figures, and its :class:`LoadResult` under ``result``."""
    env = suite.env
    assert env is not None
    tenant, key, secret = env.new_tenant("ingest")
    machine = machine_now()
    start = time.perf_counter()
    window_start = time.time()
    with CpuMeter(env.process_pids) as cpu:  # until stored: the worker's and ClickHouse's share too
        result, warmed = ingest_run(suite, suite.url, chunk, per_request, concurrency,
                                    basic_headers(key, secret), salt=tenant)
        accepted = warmed + result.statements_ok
        drained = env.wait_stored(tenant, accepted)
        end_to_end = time.perf_counter() - start
        settled = cpu.settle()  # the run's merges and analytics are its CPU, not the next run's
    clickhouse_cpu = clickhouse_split(suite, window_start, window_start + cpu.wall_s, cpu.used_s.get("clickhouse"))
    single = per_request == 1
    return {**result.as_details(), "result": result, "latency_ms": summarize(result.latencies_ms).as_dict(),
            "stored_after_s": round(drained, 2), "end_to_end_s": round(end_to_end, 2),
            "settled_after_stored_s": settled, "stored_per_s": round(rate(accepted, end_to_end), 1),
            "acknowledged_per_s": round(rate(result.ok if single else result.statements_ok, result.elapsed_s), 1),
            "short_run": short_run(suite, result), "machine": machine, "cpu": cpu.report(accepted),
            "clickhouse_cpu": clickhouse_cpu}
