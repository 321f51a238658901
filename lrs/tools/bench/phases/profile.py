"""Phase ``profile`` (only with ``--profile-seconds``): py-spy on the LRS processes and the stream worker under load.

For each workload (batched x1000 and x100, single-statement POSTs at concurrency 32) py-spy records the LRS
(``lrs serve`` and its worker processes) and the first stream worker (the sink) at the same time, twice: collapsed
stacks for the summary in the JSON, and a flame graph SVG in the run directory (``profile-<process>-<workload>.svg``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench import profile as pyspy
from lrs.tools.bench.load import FreshBodies, basic_headers, blast, make_bodies, run_load

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """py-spy during batched x1000 and x100 runs and a single-statement run (concurrency 32)."""
    env = suite.env
    assert env is not None
    if not pyspy.available():
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    o = suite.options
    pids = env.process_pids()
    targets = {name: pids[name] for name in ("lrs", "worker0") if name in pids}
    templates = corpus.take(o.ingest_statements, seed=o.seed + 4)
    summaries: dict[str, dict] = {}
    for label, per_request, concurrency in (("batch1000", 1000, o.clients), ("batch100", 100, o.clients),
                                            ("single", 1, o.single_concurrency)):
        tenant, key, secret = env.new_tenant("profile")
        if per_request == 1:
            bodies = make_bodies(templates, 1)
        else:  # enough bodies for the whole recording, fresh ids
            fresh = FreshBodies(templates, per_request, salt=tenant)
            bodies = [fresh(i) for i in range(max(20, int(o.profile_seconds * 4000 / per_request)))]
        # Warm up first: the tenant's key is verified (argon2, once per LRS process) and connections are open,
        # so the recording shows the steady state, not the one-off cost of a new key.
        run_load(blast(suite.url, make_bodies(templates[:8 * o.lrs_workers], 1), concurrency=2 * o.lrs_workers,
                          headers=basic_headers(key, secret)))
        spies = []
        for name, pid in targets.items():
            raw = suite.run_dir / f"profile-{name}-{label}.txt"
            svg = suite.run_dir / f"profile-{name}-{label}.svg"
            spies.append((name, raw, svg, pyspy.record(pid, o.profile_seconds, raw),
                          pyspy.record(pid, o.profile_seconds, svg, fmt="flamegraph")))
        time.sleep(1.0)
        run_load(blast(suite.url, bodies, concurrency=concurrency, headers=basic_headers(key, secret),
                          max_seconds=o.profile_seconds))
        for name, raw, svg, spy, flame in spies:
            spy.wait(timeout=o.profile_seconds + 60)
            flame.wait(timeout=o.profile_seconds + 60)
            summary = pyspy.summarize(pyspy.parse_raw(raw.read_text().splitlines()))
            summary["raw"] = str(raw)
            summary["flamegraph"] = str(svg) if svg.exists() else None
            summaries[f"{name}.{label}"] = summary
            suite.console.print(f"[bold]{name} {label}[/bold]: where its samples went ({svg.name})")
            suite.console.print_json(data=summary["categories_pct"])
    suite.extra["profile"] = summaries
