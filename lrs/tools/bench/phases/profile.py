"""Phase ``profile`` (only with ``--profile-seconds``): py-spy on the LRS processes under load."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench import profile as pyspy
from lrs.tools.bench.load import basic_headers, blast, make_bodies

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """py-spy on the LRS processes during a batched x100 run and a single-statement run (concurrency 32)."""
    env = suite.env
    assert env is not None
    if not pyspy.available():
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    o = suite.options
    pid = env.process_pids()["lrs"]
    statements = corpus.take(o.ingest_statements * 4, seed=o.seed + 4)
    summaries = {}
    for label, per_request, concurrency in (("batch100", 100, o.clients),
                                            ("single", 1, o.single_concurrency)):
        tenant, key, secret = env.new_tenant("profile")
        out = suite.run_dir / f"profile-lrs-{label}.txt"
        spy = pyspy.record(pid, o.profile_seconds, out)
        time.sleep(1.0)
        asyncio.run(blast(suite.url, make_bodies(statements, per_request), concurrency=concurrency,
                          headers=basic_headers(key, secret), max_seconds=o.profile_seconds))
        spy.wait(timeout=o.profile_seconds + 60)
        summary = pyspy.summarize(pyspy.parse_raw(out.read_text().splitlines()))
        summary["raw"] = str(out)
        summaries[label] = summary
        suite.console.print(f"[bold]{label}[/bold]: where the LRS processes spent their samples")
        suite.console.print_json(data=summary["categories_pct"])
    suite.extra["profile"] = summaries
