"""Probe (not part of ``lrs bench``): the worker's and ClickHouse's CPU per statement under single-statement POSTs,
for worker settings side by side.

On an isolated local stack (an LRS of 2 processes), for each round and each variant (worker settings given as
environment variables) it starts one worker, POSTs ``--statements`` single statements with 32 concurrent clients
to a fresh tenant, waits until ClickHouse holds them all, and reads the CPU the worker and ClickHouse used from the
first POST until then. Variants alternate within each round, so a drift of the machine touches both. Figures:
docs/benchmarks.md.

    python -m lrs.tools.bench.probes.trickle_cpu --variant before:LRS_SINK_BATCH_MAX_WAIT_S=0.2 \\
        --variant after: [--rounds 3] [--statements 4000]
"""

from __future__ import annotations

import argparse
import time
import uuid

from lrs.tools.bench import corpus
from lrs.tools.bench.env import BenchEnv
from lrs.tools.bench.load import make_bodies
from lrs.tools.bench.probes.variants import one_worker, post_all, run_rounds, sink_figures, variant_parser

CONCURRENCY = 32


def measure(env: BenchEnv, extra: dict[str, str], statements: list[dict]) -> dict[str, float]:
    """One worker with ``extra`` settings; CPU microseconds per statement stored and the stored rate."""
    with one_worker(env, extra) as cpu:
        tenant, key, secret = env.new_tenant("trickle")
        bodies = make_bodies([dict(s, id=str(uuid.uuid4())) for s in statements], 1)
        before, start = cpu(), time.perf_counter()
        post_all(env, bodies, CONCURRENCY, key, secret, timeout_s=60)
        env.wait_stored(tenant, len(bodies))
        elapsed = time.perf_counter() - start
        return sink_figures(before, cpu(), len(bodies), elapsed)


def _describe(run: dict[str, float]) -> str:
    return (f"worker {run['worker_us']:.0f} us, ClickHouse {run['clickhouse_us']:.0f} us of CPU per "
            f"statement; {run['stored_per_s']:.0f} stored/s")


def main(argv: list[str] | None = None) -> int:
    """Print each run and the median of each variant."""
    p = argparse.ArgumentParser(prog="python -m lrs.tools.bench.probes.trickle_cpu")
    p.add_argument("--variant", type=variant_parser(("LRS_",)), action="append", required=True)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--statements", type=int, default=4000)
    args = p.parse_args(argv)
    statements = corpus.take(args.statements)
    run_rounds(args.variant, args.rounds, lambda env, extra: measure(env, extra, statements), _describe,
               "lrs-trickle-")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
