"""Probe (not part of ``lrs bench``): CPU time per statement of each pure step of the ingest path, in process.

Runs the LRS's per-request steps (parse, depth and duplicate-key checks, validation, normalization, preparation,
partition grouping and message encoding) and the sink's (rows from a message by its typed path, which the sink
uses, and by its general path's decode and row building) on corpus statements,
timing each with ``time.process_time`` (CPU, not wall: other load on the machine changes it far less than a
rate). The garbage collector is tuned as the services tune it. Prints microseconds of CPU per statement per step
and writes them as JSON; before/after figures are in docs/benchmarks.md.

    python -m lrs.tools.bench.probes.ingest_cpu [--per-request 1000] [--statements 20000] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from lrs.core.config import Settings
from lrs.core.kafka.envelope import decode_any, encode_statements, group_request, message_key
from lrs.core.util.gctune import tune_gc
from lrs.core.util.jsondepth import too_deep
from lrs.core.util.timeparse import now_timestamp
from lrs.core.xapi import actor_ifi, normalize_statement, validate_statements
from lrs.core.xapi.jsontext import refuse_duplicate_keys
from lrs.service.auth.credentials import Client
from lrs.service.statements.prepare import prepare
from lrs.tools.bench import corpus
from streams.mapping import DEFAULT_RULES
from streams.message_rows import message_rows
from streams.rows import statement_row

PARTITIONS = list(range(6))


def _cpu(step: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        out = step()
        best = min(best, time.process_time() - start)
    return best, out


def measure(statements: list[dict[str, Any]], per_request: int, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` CPU microseconds per statement of each step over all ``statements``."""
    bodies = [orjson.dumps(statements[i:i + per_request]) for i in range(0, len(statements), per_request)]
    client = Client(key="k", tenant="tenant-a", name="probe", scopes=frozenset({"all"}))
    n = len(statements)
    steps: dict[str, float] = {}

    def run(name: str, step: Callable[[], Any]) -> Any:
        seconds, out = _cpu(step, repeats)
        steps[name] = round(seconds * 1e6 / n, 2)
        return out

    docs = run("parse body (orjson)", lambda: [orjson.loads(b) for b in bodies])
    run("depth check", lambda: [too_deep(b) for b in bodies])
    run("duplicate-key check", lambda: [refuse_duplicate_keys(b, d) for b, d in zip(bodies, docs, strict=True)])
    run("validate (pydantic)", lambda: [validate_statements(d, version="1.0.3") for d in docs])
    normalized = run("normalize", lambda: [[normalize_statement(s) for s in d] for d in docs])
    stored = now_timestamp()
    prepared = run("prepare", lambda: [[prepare(s, client=client, stored=stored, version="1.0.0") for s in d]
                                       for d in normalized])
    keyed = run("partition key (actor IFI)", lambda: [[(message_key(client.tenant, actor_ifi(s["actor"])), s)
                                                        for s in d] for d in prepared])
    messages = run("group into messages + encode", lambda: [
        encode_statements(client.tenant, client.key, bodies)
        for k in keyed for _, _, bodies in group_request(k, PARTITIONS)])
    # What the sink runs on a statements message: its typed path, rows straight from the message's bytes.
    run("sink: message rows (typed path)", lambda: [message_rows(m, lambda _tenant: DEFAULT_RULES) for m in messages])
    # The general path, for a message the typed path hands on (an erasure, or a part of an unexpected type).
    envelopes = run("sink: decode messages (general path)", lambda: [e for m in messages for e in decode_any(m)])
    run("sink: build rows (general path)", lambda: [statement_row(e) for e in envelopes])
    steps["total (typed sink path)"] = round(sum(v for k, v in steps.items() if "general path" not in k), 2)
    return steps


def main(argv: list[str] | None = None) -> int:
    """Print and write the per-step CPU figures."""
    p = argparse.ArgumentParser(prog="python -m lrs.tools.bench.probes.ingest_cpu")
    p.add_argument("--per-request", type=int, default=1000)
    p.add_argument("--statements", type=int, default=20_000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    tune_gc(Settings().gc_thresholds)
    statements = corpus.take(args.statements)
    steps = measure(statements, args.per_request, args.repeats)
    width = max(map(len, steps))
    for name, us in steps.items():
        print(f"{name:<{width}}  {us:8.2f} us CPU per statement")
    if args.out:
        args.out.write_text(json.dumps({"per_request": args.per_request, "statements": len(statements),
                                        "us_cpu_per_statement": steps}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
