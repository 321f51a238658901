"""Phase ``ralph``: the same batched workload against Ralph (file-system backend) and against us, in this run.

Like with like (issue 17): our rate is what was *stored* in ClickHouse (readable by GET), from the first request
until the last statement is in the raw table; Ralph's is what it *wrote* to its store (its file backend appends
before it answers, and the suite counts the lines afterwards). Ralph runs with as many server processes as our
LRS (``--lrs-workers``), and each measured run lasts at least 30 s or 100 requests. The CPU time of every process
on each side, per 1,000 statements, is the comparison the machine's load distorts least.
"""

from __future__ import annotations

import shutil
import time
from typing import TYPE_CHECKING, Any

from lrs.tools.bench import corpus
from lrs.tools.bench.load import basic_headers
from lrs.tools.bench.monitor import CpuMeter, machine_now
from lrs.tools.bench.phases.common import ingest_run, short_run
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import rate, summarize
from lrs.tools.bench.targets import RALPH_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Ralph in its own virtualenv (``--ralph-venv``, relative to the current directory; made on first use)."""
    env = suite.env
    assert env is not None
    from lrs.tools.bench.peer import RalphServer, ensure_venv, ralph_version
    from lrs.tools.stack import process

    o = suite.options
    venv = o.ralph_venv.expanduser().resolve()
    suite.console.print(f"Ralph virtualenv: {venv} (created on first use)")
    python = ensure_venv(venv, suite.run_dir / "ralph-install.log")
    server = RalphServer(python, suite.run_dir / "ralph", workers=o.lrs_workers)
    server_env = server.prepare()
    env.stack.start_app_process("ralph", server.argv(), env=server_env)
    try:
        server.wait_ready()
        server.smoke()
        templates = corpus.take(o.ralph_statements, seed=o.seed + 2)
        theirs_headers = basic_headers("bench", "bench-secret")
        info: dict[str, Any] = {"ralph_version": ralph_version(python), "backend": "fs (APPEND wrapper)",
                                "server_processes": {"ours": o.lrs_workers, "ralph": o.lrs_workers}}

        def pids(side: str):
            def named() -> dict[str, int]:
                every = env.process_pids()
                return {k: v for k, v in every.items() if (k == "ralph") == (side == "ralph")}
            return named

        for per_request in (100, 1000):
            tenant, key, secret = env.new_tenant("side")
            # Ralph: written statements (counted in its files) over the time the client took.
            before = server.written()
            machine = machine_now()
            with CpuMeter(pids("ralph")) as their_cpu:
                theirs, their_warm = ingest_run(suite, f"{server.base_url}/xAPI/statements", templates, per_request,
                                                o.clients, theirs_headers, salt=f"ralph{per_request}")
            written = server.written() - before
            theirs_rate = rate(theirs.statements_ok, theirs.elapsed_s)
            # Ours: stored in ClickHouse, from the first request until the last statement is in the raw table.
            start = time.perf_counter()
            with CpuMeter(pids("ours")) as our_cpu:
                ours, our_warm = ingest_run(suite, suite.url, templates, per_request, o.clients,
                                            basic_headers(key, secret), salt=tenant)
                accepted = our_warm + ours.statements_ok
                env.wait_stored(tenant, accepted)
            ours_rate = rate(accepted, time.perf_counter() - start)
            short = short_run(suite, ours) or short_run(suite, theirs)
            row = {"ours": {**ours.as_details(), "stored": accepted, "stored_per_s": round(ours_rate, 1),
                            "cpu": our_cpu.report(accepted)},
                   "ralph": {**theirs.as_details(), "written": written,
                             "acknowledged": their_warm + theirs.statements_ok,
                             "written_per_s": round(theirs_rate, 1),
                             "cpu": their_cpu.report(written)},
                   "ours_latency_ms": summarize(ours.latencies_ms).as_dict(),
                   "ralph_latency_ms": summarize(theirs.latencies_ms).as_dict(), "machine": machine,
                   "short_run": short}
            if written < their_warm + theirs.statements_ok:
                suite.errors.append(f"ralph x{per_request}: acknowledged {their_warm + theirs.statements_ok} "
                                    f"statements but wrote {written}")
            info[f"batch{per_request}"] = row
            procs = f"{o.lrs_workers} server processes each"
            suite.add(Result(f"ralph.batch{per_request}.rate",
                             f"side by side: batched POST x{per_request}, {o.clients} clients, {procs}: ours stored "
                             f"in ClickHouse vs Ralph written", "statements/s", ours_rate, ralph=theirs_rate,
                             target=RALPH_TARGET, details=row, samples=min(ours.requests, theirs.requests),
                             short=short))
            ours_cpu = row["ours"]["cpu"]["cpu_ms_per_1000_statements"]
            their_cpu_ms = row["ralph"]["cpu"]["cpu_ms_per_1000_statements"]
            suite.add(Result(f"ralph.batch{per_request}.cpu_per_1000",
                             f"side by side x{per_request}: CPU ms per 1,000 statements, all processes of each side "
                             f"(ratio < 1: we use less)", "ms", ours_cpu, ralph=their_cpu_ms,
                             details={"ours": row["ours"]["cpu"], "ralph": row["ralph"]["cpu"]}, short=short))
        suite.extra["ralph"] = info
    finally:
        process.stop(env.stack.run_dir, "ralph")
        if not o.keep_data:
            shutil.rmtree(server.state_dir / "data", ignore_errors=True)
