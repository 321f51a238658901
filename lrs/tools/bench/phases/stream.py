"""Phase ``stream``: events/s of one stream worker and of two, on statements produced to Kafka beforehand."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench.env import wait_until
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import rate

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Statements produced to Kafka first, then the workers started; the rate from first stored row to last."""
    env = suite.env
    assert env is not None
    o = suite.options
    info = {}
    for count in (1, 2):
        env.stop_workers()
        tenant, key, _ = env.new_tenant(f"stream{count}w")
        statements = corpus.take(o.stream_statements, seed=o.seed + 10 + count)
        produced_s = corpus.produce(env.settings, statements, tenant=tenant, client_key=key)
        started = time.perf_counter()
        env.start_workers(count)
        series = []

        def done(tenant: str = tenant, series: list = series, started: float = started,
                 expected: int = len(statements)) -> bool:
            n = env.stored(tenant)
            series.append((time.perf_counter() - started, n))
            return n >= expected

        wait_until(done, 600, interval=0.2, what=f"{count} worker(s) to store {len(statements)} statements")
        first = next((t, n) for t, n in series if n > 0)
        end_t = series[-1][0]
        # From the first stored row to the last: excludes worker start-up and the group join. (With
        # too few statements everything lands between two polls and there is no rate to report.)
        events = len(statements) - first[1]
        value = rate(events, end_t - first[0]) if end_t > first[0] and events > 0 else math.nan
        info[f"workers{count}"] = {"statements": len(statements), "produce_s": round(produced_s, 2),
                                   "first_row_after_s": round(first[0], 2), "all_stored_after_s": round(end_t, 2),
                                   "including_startup_per_s": round(rate(len(statements), end_t), 1)}
        suite.add(Result(f"stream.workers{count}.rate", f"stream processing, {count} worker(s) (sink)",
                         "events/s", value, details=info[f"workers{count}"],
                         note="first stored row to last; start-up and group join excluded"))
    suite.extra["stream"] = info
    env.stop_workers()
    env.start_workers(o.workers)
    env.wait_flowing()
