"""Command line of the suite: ``python -m lrs.tools.bench [options]`` and ``lrs bench [options]``."""

from __future__ import annotations

import argparse
import signal
from collections.abc import Sequence
from pathlib import Path

from lrs.tools.bench.suite import PHASES, Options, Suite


def parser() -> argparse.ArgumentParser:
    """The option parser (defaults from :class:`Options`)."""
    d = Options()
    p = argparse.ArgumentParser(prog="lrs bench", description="Benchmark the LRS pipeline on an isolated local "
                                "stack, side by side with Ralph; prints a table and writes JSON.")
    p.add_argument("--quick", action="store_true", help="tiny sizes, to check the suite itself works")
    p.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases of {','.join(PHASES)}")
    p.add_argument("--ingest-statements", type=int, default=d.ingest_statements,
                   help="statements per batched ingest run")
    p.add_argument("--clients", type=int, default=d.clients, help="concurrent clients of batched runs")
    p.add_argument("--single-requests", type=int, default=d.single_requests, help="single-statement POSTs")
    p.add_argument("--single-concurrency", type=int, default=d.single_concurrency)
    p.add_argument("--freshness-seconds", type=float, default=d.freshness_seconds)
    p.add_argument("--freshness-load", type=float, default=d.freshness_load,
                   help="share of the rate stored with batches of 100")
    p.add_argument("--stream-statements", type=int, default=d.stream_statements,
                   help="statements produced for each stream-processing run")
    p.add_argument("--query-rows", type=int, default=d.query_rows,
                   help="statements generated into ClickHouse for the query runs (10000000 for the 10M target)")
    p.add_argument("--query-repeats", type=int, default=d.query_repeats)
    p.add_argument("--query-budget-seconds", type=float, default=d.query_budget_s,
                   help="stop repeating a query after this long (at least 3 samples)")
    p.add_argument("--max-load-seconds", type=float, default=d.max_load_seconds,
                   help="upper bound of each closed-loop ingest run (the rate covers what was sent)")
    p.add_argument("--min-requests", type=int, default=d.min_requests,
                   help="requests a measured run sends at least (a run under 100 requests and 30 s is not judged)")
    p.add_argument("--ingest-repeats", type=int, default=d.ingest_repeats,
                   help="runs per ingest configuration; the rows show the one with the median stored rate")
    p.add_argument("--analytics-wait-seconds", type=float, default=d.analytics_wait_s,
                   help="how long to wait for the worker to recompute the query tenant's analytics")
    p.add_argument("--pages", type=int, default=d.pages, help="'more' pages followed per paging run")
    p.add_argument("--no-ralph", action="store_true", help="skip the side-by-side run against Ralph")
    p.add_argument("--ralph-statements", type=int, default=d.ralph_statements,
                   help="statements per side-by-side workload")
    p.add_argument("--ralph-venv", type=Path, default=d.ralph_venv, help="Ralph's own virtualenv (created if missing)")
    p.add_argument("--soak-minutes", type=float, default=d.soak_minutes, help="0 skips the soak")
    p.add_argument("--soak-load", type=float, default=d.soak_load,
                   help="share of the rate stored with batches of 100")
    p.add_argument("--lrs-workers", type=int, default=d.lrs_workers, help="lrs serve --workers N")
    p.add_argument("--workers", type=int, default=d.workers, help="stream workers outside the stream phase")
    p.add_argument("--partitions", type=int, default=d.partitions)
    p.add_argument("--profile-seconds", type=float, default=d.profile_seconds,
                   help="py-spy the LRS during a batched run this long (0: off)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--out-dir", type=Path, default=d.out_dir)
    p.add_argument("--keep-data", action="store_true", help="keep the run's ClickHouse data directory")
    return p


def options_from(args: argparse.Namespace) -> Options:
    """Options from parsed arguments (``--quick`` sets small sizes; explicit flags are ignored then)."""
    only = tuple(p.strip() for p in args.only.split(",") if p.strip())
    unknown = set(only) - set(PHASES)
    if unknown:
        raise SystemExit(f"unknown phases: {', '.join(sorted(unknown))}; known: {', '.join(PHASES)}")
    common = dict(only=only, ralph=not args.no_ralph, ralph_venv=args.ralph_venv, lrs_workers=args.lrs_workers,
                  workers=args.workers, partitions=args.partitions, seed=args.seed, out_dir=args.out_dir,
                  keep_data=args.keep_data, soak_minutes=args.soak_minutes, soak_load=args.soak_load,
                  profile_seconds=args.profile_seconds, query_budget_s=args.query_budget_seconds,
                  max_load_seconds=args.max_load_seconds, analytics_wait_s=args.analytics_wait_seconds)
    if args.quick:
        options = Options.quick()
        for k, v in common.items():
            setattr(options, k, v)
        if args.min_requests != Options().min_requests:
            options.min_requests = args.min_requests
        return options
    return Options(ingest_statements=args.ingest_statements, clients=args.clients,
                   single_requests=args.single_requests, single_concurrency=args.single_concurrency,
                   freshness_seconds=args.freshness_seconds, freshness_load=args.freshness_load,
                   stream_statements=args.stream_statements, query_rows=args.query_rows,
                   query_repeats=args.query_repeats, pages=args.pages, ralph_statements=args.ralph_statements,
                   min_requests=args.min_requests, ingest_repeats=args.ingest_repeats, **common)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; exit code 1 if a phase failed (unmet targets are not failures)."""
    options = options_from(parser().parse_args(argv))
    # SIGTERM (e.g. `timeout`, a CI cancel) unwinds like Ctrl-C, so the suite's finally blocks stop its stack.
    signal.signal(signal.SIGTERM, _interrupt)
    if not options.ralph:
        options.only = tuple(p for p in options.only if p != "ralph")
    document = Suite(options).run()
    return 1 if document["errors"] else 0
