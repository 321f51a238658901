"""What the side-by-side probes share: variants as environment variables, alternating rounds, medians."""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lrs.tools.bench.env import BenchEnv
from lrs.tools.bench.load import basic_headers, blast, run_load
from lrs.tools.bench.monitor import tree_cpu

Measure = Callable[[BenchEnv, dict[str, str]], dict[str, float]]


def variant_parser(allowed: Sequence[str] = ("LRS_",)) -> Callable[[str], tuple[str, dict[str, str]]]:
    """A parser of ``NAME:VAR=VALUE,VAR=VALUE`` (no variables: the stack's own environment) as ``(NAME, {VAR:
    VALUE})``, for variables that start with one of ``allowed``."""

    def parse(text: str) -> tuple[str, dict[str, str]]:
        name, _, assignments = text.partition(":")
        env = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
        if not name or any(not var.startswith(tuple(allowed)) for var in env):
            raise argparse.ArgumentTypeError(f"not NAME:VAR=VALUE,... ({', '.join(allowed)}...): {text!r}")
        return name, env

    return parse


def run_rounds(variants: list[tuple[str, dict[str, str]]], rounds: int, measure: Measure,
               describe: Callable[[dict[str, float]], str], prefix: str) -> dict[str, dict[str, float]]:
    """On one isolated stack with no worker of its own, ``measure`` each variant in turn, ``rounds`` times (so a
    drift of the machine touches every variant); print each run and each variant's medians, and return these."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in variants}
    with tempfile.TemporaryDirectory(prefix=prefix) as state:
        env = BenchEnv(Path(state))
        try:
            env.start(workers=0)  # each measurement starts its own worker
            for round_no in range(rounds):
                for name, extra in variants:
                    run = measure(env, extra)
                    runs[name].append(run)
                    print(f"round {round_no + 1} {name}: {describe(run)}", flush=True)
        finally:
            env.close()
    medians = {name: {key: statistics.median(run[key] for run in done) for key in done[0]}
               for name, done in runs.items()}
    for name, figures in medians.items():
        print(f"{name} (median of {len(runs[name])}): {describe(figures)}")
    return medians


@contextmanager
def one_worker(env: BenchEnv, extra: dict[str, str]) -> Iterator[Callable[[], dict[str, float]]]:
    """One more worker with ``extra`` over the stack's environment, holding its partitions before anything is
    timed; yields :func:`sink_cpu` of it, and stops it afterwards."""
    env.start_workers(1, extra)
    try:
        env.wait_flowing()
        yield sink_cpu(env)
    finally:
        env.stop_workers()


def post_all(env: BenchEnv, bodies: list[bytes], concurrency: int, key: str, secret: str, timeout_s: float) -> None:
    """POST every body to the stack's statements resource; raise unless every one was accepted."""
    result = run_load(blast(f"{env.base_url}/xapi/statements", bodies, concurrency=concurrency,
                               headers=basic_headers(key, secret), timeout_s=timeout_s))
    if result.ok != len(bodies):
        raise RuntimeError(f"{len(bodies) - result.ok} POSTs failed: {dict(result.statuses)}")


def sink_cpu(env: BenchEnv) -> Callable[[], dict[str, float]]:
    """A reader of the CPU seconds the stack's newest worker and ClickHouse have used so far."""
    pids = env.process_pids()
    worker, clickhouse = pids[env.worker_names[-1]], pids["clickhouse"]
    return lambda: {"worker": tree_cpu(worker)[0], "clickhouse": tree_cpu(clickhouse)[0]}


def sink_figures(before: dict[str, float], used: dict[str, float], statements: int,
                 elapsed_s: float) -> dict[str, float]:
    """Stored statements per second, and the worker's and ClickHouse's CPU microseconds per statement."""
    return {"stored_per_s": statements / elapsed_s,
            "worker_us": (used["worker"] - before["worker"]) * 1e6 / statements,
            "clickhouse_us": (used["clickhouse"] - before["clickhouse"]) * 1e6 / statements}
