"""Phase ``soak`` (only with ``--soak-minutes``): steady open-loop load, the RSS of every process sampled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench.load import FreshBodies, basic_headers, paced, run_load
from lrs.tools.bench.monitor import CpuMeter, RssSampler, machine_now
from lrs.tools.bench.phases.freshness import open_loop_rows
from lrs.tools.bench.report import Result
from lrs.tools.bench.targets import ACHIEVED_TARGET, FLAT_TARGET

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Steady load for ``soak_minutes`` at ``soak_load`` of the best stored rate; flat: < +10 % over the second
    half, and the achieved rate equal to the offered one.

    The RSS rows' value is ``late_growth`` (median RSS of the last quarter vs the second quarter); the growth
    from the end of a 10 % warm-up to the last sample is in the row's label and details.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    basis = suite.load_basis(100)  # its requests hold 100 statements
    offered = max(100.0, basis * o.soak_load)
    tenant, key, secret = env.new_tenant("soak")
    bodies = FreshBodies(corpus.take(20_000, seed=o.seed + 3), 100, salt=tenant)
    sampler = RssSampler(env.process_pids, interval=max(2.0, o.soak_minutes * 60 / 120))
    machine = [machine_now()]
    with sampler, CpuMeter(env.process_pids) as cpu:
        result = run_load(paced(suite.url, bodies, per_request=100, statements_per_s=offered,
                                   duration_s=o.soak_minutes * 60, headers=basic_headers(key, secret)))
    machine.append(machine_now())
    report = sampler.report()
    info = {"offered_statements_per_s": round(offered), **result.as_details(), "machine": machine,
            "cpu": cpu.report(result.statements_ok), "rss": report}
    suite.extra["soak"] = info
    what = f"soak {o.soak_minutes:g} min"
    open_loop_rows(suite, "soak.load", what, result, 100, {k: v for k, v in info.items() if k != "rss"})
    share = 100 * result.ok / result.due if result.due else 0.0
    suite.add(Result("soak.achieved_share", f"{what}: requests acknowledged / requests due", "% of offered", share,
                     target=ACHIEVED_TARGET, samples=result.due))
    for name, r in sorted(report.items()):
        suite.add(Result(f"soak.rss.{name}",
                         f"{what}: RSS {name} {r['start_mb']:.0f}->{r['end_mb']:.0f} MB "
                         f"(max {r['max_mb']:.0f}; {100 * r['growth']:+.0f} % after warm-up), second half",
                         "%", 100 * r["late_growth"], target=FLAT_TARGET,
                         details={k: v for k, v in r.items() if k != "samples"}))
