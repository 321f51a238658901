"""The shared retry policy (lrs/core/retry.py): jittered, capped, and the loop shapes the workers use."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from tenacity import RetryCallState

from lrs.core.config import Settings
from lrs.core.retry import apoll_until, backoff_s, jittered_backoff, poll_until, retry_forever, worker_backoff


def _state(attempt: int) -> RetryCallState:
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
    state.attempt_number = attempt
    return state


def test_waits_are_jittered_between_half_and_all_of_the_capped_exponential() -> None:
    wait = jittered_backoff(0.1, 10.0)
    for attempt, ceiling in ((1, 0.1), (2, 0.2), (4, 0.8), (8, 10.0), (30, 10.0)):
        samples = [wait(_state(attempt)) for _ in range(300)]
        assert min(samples) >= ceiling / 2 - 1e-9
        assert max(samples) <= ceiling + 1e-9
        # Spread out: workers that failed together do not retry together.
        assert len({round(s, 6) for s in samples}) > 250
        assert max(samples) - min(samples) > ceiling / 4


def test_worker_backoff_is_capped_by_the_setting() -> None:
    wait = worker_backoff(Settings(sink_retry_max_s=2.0))
    assert all(1.0 <= wait(_state(20)) <= 2.0 for _ in range(100))
    assert all(0.05 <= wait(_state(1)) <= 0.1 for _ in range(100))


def test_backoff_s_for_schedules_outside_a_loop() -> None:
    pauses = [backoff_s(3, 2.0, 60.0) for _ in range(200)]
    assert all(4.0 <= p <= 8.0 for p in pauses) and len(set(pauses)) > 150
    assert all(30.0 <= backoff_s(50, 2.0, 60.0) <= 60.0 for _ in range(50))
    assert 1.0 <= backoff_s(0, 2.0, 60.0) <= 2.0


def test_retry_forever_retries_the_same_work_until_it_succeeds(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[int] = []
    stalled: list[float] = []

    async def action() -> str:
        calls.append(len(calls))
        if len(calls) < 4:
            raise ConnectionError("down")
        return "written"

    with caplog.at_level(logging.WARNING):
        result = asyncio.run(retry_forever(action, "test write", 0.004, initial_s=0.001, on_failure=stalled.append))
    assert result == "written" and len(calls) == 4
    assert len(stalled) == 3 and stalled == sorted(stalled) and stalled[0] == 0
    assert "test write failed (ConnectionError: down); retrying in" in caplog.text


def test_retry_forever_does_not_swallow_cancellation() -> None:
    async def main() -> None:
        async def never() -> None:
            raise OSError("still down")

        task = asyncio.create_task(retry_forever(never, "w", 0.01, initial_s=0.005))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_poll_until_returns_the_first_truthy_result() -> None:
    results = iter([0, 0, [], 7, 9])
    assert poll_until(lambda: next(results), initial_s=0.001, max_s=0.002) == 7


def test_poll_until_gives_up_after_the_bound_with_the_last_result() -> None:
    start = time.monotonic()
    assert poll_until(lambda: [], initial_s=0.005, max_s=0.01, within_s=0.1) == []
    assert 0.1 <= time.monotonic() - start < 1.0


def test_poll_until_lets_errors_of_the_check_through() -> None:
    def check() -> None:
        raise ValueError("bad query")

    with pytest.raises(ValueError, match="bad query"):
        poll_until(check, initial_s=0.001, max_s=0.001, within_s=1)


def test_apoll_until() -> None:
    seen: list[int] = []

    async def check() -> list[int]:
        seen.append(1)
        return [1] if len(seen) == 3 else []

    assert asyncio.run(apoll_until(check, initial_s=0.001, max_s=0.002, within_s=5)) == [1]
    assert asyncio.run(apoll_until(lambda: asyncio.sleep(0, result=""), initial_s=0.01, max_s=0.01,
                                   within_s=0.05)) == ""
