"""Phase ``soak`` (only with ``--soak-minutes``): steady open-loop load, the RSS of every process sampled."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrs.tools.bench import corpus
from lrs.tools.bench.load import FreshBodies, basic_headers, paced, run_load
from lrs.tools.bench.monitor import CpuMeter, RssSampler, WorkerStateSampler, machine_now
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
    interval = max(2.0, o.soak_minutes * 60 / 120)
    sampler = RssSampler(env.process_pids, interval=interval)
    workers = WorkerStateSampler(lambda: env.worker_metrics, interval=interval)
    machine = [machine_now()]
    with sampler, workers, CpuMeter(env.process_pids) as cpu:
        result = run_load(paced(suite.url, bodies, per_request=100, statements_per_s=offered,
                                   duration_s=o.soak_minutes * 60, headers=basic_headers(key, secret)))
    machine.append(machine_now())
    report = sampler.report()
    states = workers.report(env.settings.sink_batch_limit_bytes)
    info = {"offered_statements_per_s": round(offered), **result.as_details(), "machine": machine,
            "cpu": cpu.report(result.statements_ok), "rss": report, "workers": states}
    suite.extra["soak"] = info
    what = f"soak {o.soak_minutes:g} min"
    open_loop_rows(suite, "soak.load", what, result, 100,
                   {k: v for k, v in info.items() if k not in ("rss", "workers")})
    share = 100 * result.ok / result.due if result.due else 0.0
    suite.add(Result("soak.achieved_share", f"{what}: requests acknowledged / requests due", "% of offered", share,
                     target=ACHIEVED_TARGET, samples=result.due))
    for name, r in sorted(report.items()):
        suite.add(Result(f"soak.rss.{name}",
                         f"{what}: RSS {name} {r['start_mb']:.0f}->{r['end_mb']:.0f} MB "
                         f"(max {r['max_mb']:.0f}; {100 * r['growth']:+.0f} % after warm-up), second half",
                         "%", 100 * r["late_growth"], target=FLAT_TARGET,
                         details={k: v for k, v in r.items() if k != "samples"}))
    for name, state in sorted(states.items()):
        # No target: what the worker's RSS row follows. A sink at its intake's bound holds a batch decoded ahead
        # besides the one written; the refresh's rounds recompute each touched learner from its whole history.
        q = state["quarters"]
        if q:
            suite.add(Result(f"soak.worker_state.{name}",
                             f"{what}: {name} by quarter: sink intake at least half full in "
                             + " / ".join(f"{100 * x['behind_share']:.0f}" for x in q) + " % of samples; analytics "
                             "round mean " + " / ".join(f"{x['mean_round_s']:.1f}" for x in q) + " s (last quarter)",
                             "s", q[-1]["mean_round_s"], details={"quarters": q}))
