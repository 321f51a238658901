"""Probe (not part of ``lrs bench``): how fast one worker and ClickHouse write a backlog, for worker variants side by
side.

On an isolated local stack (an LRS of 2 processes), for each round and each variant it starts one worker with the
variant's environment, waits until it holds its partitions, stops it (SIGSTOP), POSTs ``--statements`` statements
in batches of ``--per-request`` to a fresh tenant, lets it go on (SIGCONT) and times the drain: until ClickHouse
holds them all, with the CPU the worker and ClickHouse used meanwhile. So it measures the sink's chain (decode,
rows, inserts) alone, without the LRS competing for the cores. A variant is environment variables: ``LRS_*``
settings, or ``PYTHONPATH`` to run the worker from another checkout (code before and after a change). Variants
alternate within each round. Figures: docs/benchmarks.md.

    python -m lrs.tools.bench.probes.sink_drain --variant before:PYTHONPATH=/tmp/old --variant after: \\
        [--rounds 3] [--statements 60000] [--per-request 1000]
"""

from __future__ import annotations

import argparse
import os
import signal
import time
import uuid

from lrs.tools.bench import corpus
from lrs.tools.bench.env import BenchEnv
from lrs.tools.bench.load import make_bodies
from lrs.tools.bench.probes.variants import one_worker, post_all, run_rounds, sink_figures, variant_parser

CLIENTS = 4


def measure(env: BenchEnv, extra: dict[str, str], statements: list[dict], per_request: int) -> dict[str, float]:
    """Queue the statements while one worker of ``extra`` is stopped (SIGSTOP), then time how it drains them."""
    with one_worker(env, extra) as cpu:
        tenant, key, secret = env.new_tenant("drain")
        worker = env.process_pids()[env.worker_names[-1]]
        bodies = make_bodies([dict(s, id=str(uuid.uuid4())) for s in statements], per_request)
        os.kill(worker, signal.SIGSTOP)  # briefly: well within the consumer group's session timeout
        try:
            post_all(env, bodies, CLIENTS, key, secret, timeout_s=120)
        finally:
            before, start = cpu(), time.perf_counter()
            os.kill(worker, signal.SIGCONT)
        env.wait_stored(tenant, len(statements))
        elapsed = time.perf_counter() - start
        return sink_figures(before, cpu(), len(statements), elapsed)


def _describe(run: dict[str, float]) -> str:
    return (f"{run['stored_per_s']:.0f} stored/s; worker {run['worker_us']:.0f} us, ClickHouse "
            f"{run['clickhouse_us']:.0f} us of CPU per statement")


def main(argv: list[str] | None = None) -> int:
    """Print each run and the median of each variant."""
    p = argparse.ArgumentParser(prog="python -m lrs.tools.bench.probes.sink_drain")
    p.add_argument("--variant", type=variant_parser(("LRS_", "PYTHONPATH")), action="append", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--statements", type=int, default=60_000)
    p.add_argument("--per-request", type=int, default=1000)
    args = p.parse_args(argv)
    statements = corpus.take(args.statements)
    run_rounds(args.variant, args.rounds, lambda env, extra: measure(env, extra, statements, args.per_request),
               _describe, "lrs-drain-")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
