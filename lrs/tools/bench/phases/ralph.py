"""Phase ``ralph``: the same batched workload against Ralph (file-system backend) and against us, in this run."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

from lrs.tools.bench import corpus
from lrs.tools.bench.load import basic_headers
from lrs.tools.bench.phases.common import ingest_run
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
    server = RalphServer(python, suite.run_dir / "ralph")
    server_env = server.prepare()
    env.stack.start_app_process("ralph", server.argv(), env=server_env)
    try:
        server.wait_ready()
        server.smoke()
        statements = corpus.take(2 * o.ralph_statements, seed=o.seed + 2)
        workloads = [(100, statements[: o.ralph_statements]), (1000, statements[o.ralph_statements:])]
        tenant, key, secret = env.new_tenant("side")
        ours_headers = basic_headers(key, secret)
        theirs_headers = basic_headers("bench", "bench-secret")
        info: dict[str, Any] = {"ralph_version": ralph_version(python), "backend": "fs (APPEND wrapper)"}
        for per_request, chunk in workloads:
            theirs, _ = ingest_run(suite, f"{server.base_url}/xAPI/statements", chunk, per_request, o.clients,
                                   theirs_headers)
            ours, _ = ingest_run(suite, suite.url, chunk, per_request, o.clients, ours_headers)
            ours_rate = rate(ours.statements_ok, ours.elapsed_s)
            theirs_rate = rate(theirs.statements_ok, theirs.elapsed_s)
            info[f"batch{per_request}"] = {"ours": ours.as_details(), "ralph": theirs.as_details(),
                                           "ours_latency_ms": summarize(ours.latencies_ms).as_dict(),
                                           "ralph_latency_ms": summarize(theirs.latencies_ms).as_dict()}
            suite.add(Result(f"ralph.batch{per_request}.rate",
                             f"side by side: batched POST x{per_request}, {o.clients} clients, "
                             f"{len(chunk):,} statements", "statements/s", ours_rate, ralph=theirs_rate,
                             target=RALPH_TARGET, details=info[f"batch{per_request}"]))
        suite.extra["ralph"] = info
    finally:
        process.stop(env.stack.run_dir, "ralph")
        if not o.keep_data:
            shutil.rmtree(server.state_dir / "data", ignore_errors=True)
