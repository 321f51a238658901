"""The open-loop scheduler (coordinated-omission corrected) on a simulated clock, and the sample-count rules."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math

import pytest

from lrs.tools.bench.load import LoadResult, open_loop
from lrs.tools.bench.report import Result, Target, markdown_table
from lrs.tools.bench.stats import LatencyRecorder, min_samples, sufficient


class SimClock:
    """Discrete-event time: ``sleep`` parks the caller until the driver advances time to its wake-up."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + max(0.0, seconds), next(self._seq), future))
        await future

    def run(self, coro):
        """Run ``coro`` to completion, advancing time whenever every task waits on the clock."""

        async def drive():
            task = asyncio.ensure_future(coro)
            while not task.done():
                for _ in range(50):  # let everything runnable run
                    await asyncio.sleep(0)
                if task.done() or not self._sleepers:
                    continue
                wake, _, future = heapq.heappop(self._sleepers)
                self.t = max(self.t, wake)
                future.set_result(None)
            return task.result()

        return asyncio.run(drive())


def simulate(service_s, *, interval: float, duration_s: float, max_in_flight: int):
    """An open loop against a server taking ``service_s(i)`` per request; (schedule, latencies by index)."""
    clock = SimClock()
    latencies: dict[int, float] = {}
    sent_at: dict[int, float] = {}

    async def send(index: int, intended: float) -> None:
        sent_at[index] = clock.now()
        await clock.sleep(service_s(index))
        latencies[index] = clock.now() - intended

    schedule = clock.run(open_loop(send, interval=interval, duration_s=duration_s, max_in_flight=max_in_flight,
                                   clock=clock))
    return schedule, latencies, sent_at


def test_a_fast_server_gets_every_request_on_time() -> None:
    schedule, latencies, sent_at = simulate(lambda i: 0.005, interval=0.1, duration_s=10, max_in_flight=4)
    assert schedule.due == schedule.sent == 100 and schedule.dropped == 0 and schedule.late == 0
    assert sent_at[37] == pytest.approx(3.7)  # sent on schedule, not when a previous one returned
    assert all(v == pytest.approx(0.005) for v in latencies.values())


def test_a_stall_counts_in_the_latency_of_every_request_that_fell_due_meanwhile() -> None:
    """One request takes 2 s while one connection is allowed: the 19 requests due during the stall wait, and
    their latency is measured from when they were due (a closed loop would report 19 x 5 ms)."""
    schedule, latencies, _ = simulate(lambda i: 2.0 if i == 10 else 0.005, interval=0.1, duration_s=10,
                                      max_in_flight=1)
    assert schedule.dropped == 0 and schedule.sent == 100
    assert latencies[10] == pytest.approx(2.0)
    assert latencies[11] == pytest.approx(2.0 - 0.1 + 0.005)  # due at 1.1, sent at 3.0, answered at 3.005
    assert latencies[29] == pytest.approx(3.0 + 0.005 * 19 - 2.9, abs=1e-6)
    assert sum(1 for v in latencies.values() if v > 0.05) >= 19
    assert schedule.late >= 19 and schedule.max_send_delay_s == pytest.approx(1.9)


def test_a_server_slower_than_the_offered_rate_drops_what_it_never_got() -> None:
    """Offered 10/s, served at most 2/s with 2 connections: after 10 s about 20 were sent, the rest dropped."""
    schedule, latencies, _ = simulate(lambda i: 1.0, interval=0.1, duration_s=10, max_in_flight=2)
    assert schedule.due == 100
    assert schedule.sent == 20 and schedule.dropped == 80
    assert schedule.sent + schedule.dropped == schedule.due
    assert max(latencies.values()) > 8  # the last sent waited most of the run for a connection
    assert schedule.elapsed_s == pytest.approx(10.1)  # sending stops at 10 s; the last one sent (9.1 s) returns


def test_the_schedule_counts_requests_due_within_the_run() -> None:
    schedule, _, _ = simulate(lambda i: 0.001, interval=0.3, duration_s=1.0, max_in_flight=8)
    assert schedule.due == 4 and schedule.elapsed_s == pytest.approx(1.0)  # at 0, 0.3, 0.6, 0.9; window 1 s
    schedule, _, _ = simulate(lambda i: 0.001, interval=0.25, duration_s=1.0, max_in_flight=8)
    assert schedule.due == 4  # 1.0 itself is past the run


def test_percentiles_need_ten_samples_beyond_them() -> None:
    assert min_samples(99) == 1000 and min_samples(90) == 100 and min_samples(50) == 20
    assert min_samples(99.9) == 10_000
    assert sufficient(1000, 99) and not sufficient(999, 99)
    with pytest.raises(ValueError):
        min_samples(100)


def test_latency_recorder_reports_its_sample_count_and_an_hdr_histogram() -> None:
    recorder = LatencyRecorder()
    for v in range(1, 301):
        recorder.record(float(v))
    d = recorder.as_dict()
    assert d["count"] == 300 and d["p99_sufficient"] is False and d["p99_needs"] == 1000
    assert d["p50"] == pytest.approx(150.5)
    if recorder.histogram is not None:
        from hdrh.histogram import HdrHistogram

        decoded = HdrHistogram.decode(d["hdr"])
        assert decoded.get_total_count() == 300
        assert decoded.get_value_at_percentile(50) / 1000 == pytest.approx(150, rel=0.01)


def test_a_percentile_row_on_too_few_samples_is_marked_and_not_judged() -> None:
    row = Result("x.p99", "freshness p99", "ms", 120.0, target=Target("<", 1000), samples=300, percentile=99)
    assert row.insufficient and row.met is None
    assert "insufficient" in markdown_table([row]) and "n=300" in markdown_table([row])
    enough = Result("x.p99", "freshness p99", "ms", 120.0, target=Target("<", 1000), samples=1500, percentile=99)
    assert not enough.insufficient and enough.met is True and "n=1,500" in markdown_table([enough])
    assert enough.as_dict()["samples"] == 1500


def test_open_loop_counters_in_details() -> None:
    result = LoadResult(requests=10, ok=8, elapsed_s=2.0, due=12, dropped=2, offered_per_s=6.0)
    d = result.as_details()
    assert d["failed"] == 2 and d["dropped"] == 2 and d["due"] == 12 and d["achieved_requests_per_s"] == 4.0
    assert math.isnan(LatencyRecorder().summary().p99)


def test_profile_counts_a_waiting_loop_as_idle_not_as_the_http_server() -> None:
    from lrs.tools.bench import profile

    raw = [
        "main (uvicorn/main.py:1);asyncio_run (uvicorn/_compat.py:2);Runner.run (asyncio/runners.py:118) 30",
        "main (uvicorn/main.py:1);post_statements (lrs/service/routes/statements.py:9);"
        "validate_statements (lrs/core/xapi/validate.py:5) 10",
    ]
    summary = profile.summarize(profile.parse_raw(raw))
    assert summary["categories_pct"][profile.IDLE[0]] == 75.0
    assert "HTTP server (uvicorn/starlette/fastapi)" not in summary["categories_pct"]


def test_a_run_under_100_requests_and_30_seconds_is_short_and_not_judged() -> None:
    from lrs.tools.bench.phases.common import short_run

    assert short_run(None, LoadResult(requests=99, elapsed_s=29.9))  # type: ignore[arg-type]
    assert not short_run(None, LoadResult(requests=100, elapsed_s=2.0))  # type: ignore[arg-type]
    assert not short_run(None, LoadResult(requests=9, elapsed_s=30.0))  # type: ignore[arg-type]
    row = Result("ingest.batch1000.rate", "x1000", "statements/s", 20_000, target=Target(">=", 10_000), samples=9,
                 short=True)
    assert row.met is None and "short run: not judged" in row.label
