"""Phase ``soak`` (only with ``--soak-minutes``): steady load, the RSS of every process sampled."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench.load import FreshBodies, basic_headers, paced
from lrs.tools.bench.monitor import RssSampler
from lrs.tools.bench.report import Result
from lrs.tools.bench.targets import FLAT_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Steady load for ``soak_minutes``; flat: < +10 % over the second half.

    The row's value is ``late_growth`` (median RSS of the last quarter vs the second quarter); the growth
    from the end of a 10 % warm-up to the last sample is in the row's label and details.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    offered = max(100.0, (suite.max_ingest_rate or 2000.0) * o.soak_load)
    tenant, key, secret = env.new_tenant("soak")
    bodies = FreshBodies(corpus.take(20_000, seed=o.seed + 3), 100, salt=tenant)
    sampler = RssSampler(env.process_pids, interval=max(2.0, o.soak_minutes * 60 / 120))
    with sampler:
        result = asyncio.run(paced(suite.url, bodies, per_request=100, statements_per_s=offered,
                                   duration_s=o.soak_minutes * 60, headers=basic_headers(key, secret)))
    report = sampler.report()
    suite.extra["soak"] = {"offered_statements_per_s": round(offered), **result.as_details(), "rss": report}
    for name, r in sorted(report.items()):
        in_memory_broker = name == "broker"
        suite.add(Result(f"soak.rss.{name}",
                         f"soak {o.soak_minutes:g} min: RSS {name} {r['start_mb']:.0f}->{r['end_mb']:.0f} MB "
                         f"(max {r['max_mb']:.0f}; {100 * r['growth']:+.0f} % after warm-up), second half",
                         "%", 100 * r["late_growth"],
                         target=None if in_memory_broker else FLAT_TARGET,
                         details={k: v for k, v in r.items() if k != "samples"},
                         note="the local broker keeps every message in memory" if in_memory_broker else ""))
