"""The one retry policy of the service and the workers: capped exponential back-off with jitter (tenacity).

Without jitter every worker that saw ClickHouse (or the broker) fail at the same moment retries at the same
moments too, and they hit the recovering server in lockstep. Here attempt ``n`` waits a random time between
half and all of ``min(initial * 2**(n-1), max)`` ("equal jitter"): spread out, yet never much shorter than the
plain back-off it replaces, so recovery is as quick as before.

Two shapes cover the loops: :func:`retry_forever` (work that must not be dropped: retried on any ``Exception``
until it succeeds; cancellation still stops it) and :func:`poll_until` / :func:`apoll_until` (wait, optionally
bounded, until a check returns something truthy; exceptions of the check propagate).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_result,
    stop_after_delay,
    stop_never,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.wait import wait_base

from lrs.core.config import Settings

T = TypeVar("T")

log = logging.getLogger(__name__)

# The first pause of a worker's retry loop: short, so a blip costs little; the cap comes from the settings.
WORKER_INITIAL_S = 0.1


def jittered_backoff(initial_s: float, max_s: float) -> wait_base:
    """Attempt ``n`` waits uniformly between half and all of ``min(initial_s * 2**(n-1), max_s)``."""
    half_initial, half_max = initial_s / 2, max_s / 2
    return (wait_exponential(multiplier=half_initial, min=half_initial, max=half_max)
            + wait_random_exponential(multiplier=half_initial, max=half_max))


def backoff_s(attempt: int, initial_s: float, max_s: float) -> float:
    """The jittered pause before retry number ``attempt`` (1-based), for a schedule kept outside a loop (e.g. a
    ``next attempt at`` time recorded with a failed job)."""
    state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})  # type: ignore[arg-type]
    state.attempt_number = max(1, attempt)
    return jittered_backoff(initial_s, max_s)(state)


def worker_backoff(settings: Settings) -> wait_base:
    """The workers' wait between retries of a failed write: from 0.1 s up to ``sink_retry_max_s``."""
    return jittered_backoff(WORKER_INITIAL_S, settings.sink_retry_max_s)


async def retry_forever(action: Callable[[], Awaitable[T]], what: str, max_backoff_s: float, *,
                        initial_s: float = WORKER_INITIAL_S, logger: logging.Logger | None = None,
                        on_failure: Callable[[float], None] | None = None) -> T:
    """Await ``action()`` until it succeeds (the same work is retried, never dropped); return its result.

    Every failure is logged on ``logger`` as "<what> failed (...); retrying in N s". ``on_failure`` is called
    before each pause with the seconds since the first failure (for a "stalled for" gauge).
    """
    logger = logger or log
    first_failure: list[float] = []

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        pause = state.next_action.sleep if state.next_action else 0.0
        logger.warning("%s failed (%s: %s); retrying in %.2fs", what, type(exc).__name__, exc, pause)
        if on_failure is not None:
            now = time.monotonic()
            first_failure[:] = first_failure or [now]
            on_failure(now - first_failure[0])

    retrying = AsyncRetrying(wait=jittered_backoff(initial_s, max_backoff_s), stop=stop_never,
                             retry=retry_if_exception_type(Exception), before_sleep=before_sleep, reraise=True)
    return await retrying(_awaiting(action))


def _awaiting(action: Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    """A coroutine function around ``action``: tenacity awaits only what it recognises as one, and a lambda
    returning an awaitable (``lambda: loop.run_in_executor(...)``) is not."""

    async def attempt() -> T:
        return await action()

    return attempt


def _timed_out(state: RetryCallState) -> Any:
    """At the bound, hand back the check's last (falsy) result instead of raising ``RetryError``."""
    return state.outcome.result() if state.outcome else None


def poll_until(check: Callable[[], T], *, initial_s: float, max_s: float, within_s: float | None = None,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call ``check`` until it returns something truthy, with jittered back-off between calls.

    Returns that result, or the last falsy one once ``within_s`` (if given) has passed since the first call.
    """
    retrying = Retrying(wait=jittered_backoff(initial_s, max_s),
                        stop=stop_never if within_s is None else stop_after_delay(within_s),
                        retry=retry_if_not_result(bool), retry_error_callback=_timed_out, sleep=sleep)
    return retrying(check)


async def apoll_until(check: Callable[[], Awaitable[T]], *, initial_s: float, max_s: float,
                      within_s: float | None = None) -> T:
    """:func:`poll_until` for an async ``check`` (pauses with ``asyncio.sleep``)."""
    retrying = AsyncRetrying(wait=jittered_backoff(initial_s, max_s),
                             stop=stop_never if within_s is None else stop_after_delay(within_s),
                             retry=retry_if_not_result(bool), retry_error_callback=_timed_out)
    return await retrying(_awaiting(check))
