"""HTTP load generation (aiohttp): closed-loop blasts with N concurrent clients, and open-loop paced load.

Bodies are serialized before the clock starts, so the client spends its share of the 2 cores on sending,
not on JSON encoding. The open loop (:func:`open_loop`, :func:`paced`) is corrected for coordinated omission:
request ``i`` has an intended send time ``start + i * interval`` fixed in advance, its latency is measured from
that time (a request that waited for a free connection because the server was behind counts that wait), and
requests that fell due within the run but were never sent are counted as dropped, never silently skipped.
"""

from __future__ import annotations

import asyncio
import base64
import math
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import orjson
import uvloop

from lrs.tools.bench.stats import LatencyRecorder

T = TypeVar("T")


def run_load(load: Coroutine[Any, Any, T]) -> T:
    """Run a load coroutine to completion on uvloop, as the LRS runs: the client's CPU counts in every figure
    (CPU per 1,000 statements covers all processes), and asyncio's own loop cost it about a fifth more."""
    return uvloop.run(load)


@dataclass(frozen=True)
class Body:
    """One request body and the statement ids it carries."""

    data: bytes
    ids: tuple[str, ...]

    @property
    def statements(self) -> int:
        """Statements in the body."""
        return len(self.ids)


def make_bodies(statements: Sequence[dict[str, Any]], per_request: int) -> list[Body]:
    """Serialize ``statements`` into bodies of ``per_request`` (1: a single statement object, not an array)."""
    bodies = []
    for start in range(0, len(statements), per_request):
        chunk = statements[start:start + per_request]
        payload = chunk[0] if per_request == 1 else list(chunk)
        bodies.append(Body(orjson.dumps(payload), tuple(str(s["id"]) for s in chunk)))
    return bodies


def basic_headers(key: str, secret: str, version: str = "1.0.3") -> dict[str, str]:
    """Headers of an authenticated xAPI JSON request."""
    token = base64.b64encode(f"{key}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": version,
            "Content-Type": "application/json"}


@dataclass
class LoadResult:
    """What a load run did: counts, time and per-request latencies (ms).

    ``latencies_ms`` holds successful requests only (closed loop: from send to response; open loop: from the
    intended send time). An open loop also fills ``latency`` with every request that got an answer or an error
    (failures count, from their intended send time) and its schedule: ``due`` requests fell due within the run,
    ``dropped`` of them were never sent, ``late`` were sent more than 10 ms after their intended time.
    """

    requests: int = 0
    ok: int = 0
    statements_ok: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    first_error: str = ""
    due: int = 0
    dropped: int = 0
    late: int = 0
    max_send_delay_ms: float = 0.0
    offered_per_s: float = 0.0
    latency: LatencyRecorder = field(default_factory=LatencyRecorder)

    @property
    def failed(self) -> int:
        """Requests sent that got no 200/204 (an error status, a timeout or a connection error)."""
        return self.requests - self.ok

    def as_details(self) -> dict[str, Any]:
        """JSON-ready counters (latencies summarized by the caller; the open loop's schedule and latency)."""
        out = {"requests": self.requests, "ok": self.ok, "failed": self.failed, "statements_ok": self.statements_ok,
               "elapsed_s": round(self.elapsed_s, 3), "statuses": {str(k): v for k, v in self.statuses.items()},
               "first_error": self.first_error[:300]}
        if self.due:
            out.update({"offered_requests_per_s": round(self.offered_per_s, 2), "due": self.due,
                        "dropped": self.dropped, "late": self.late,
                        "max_send_delay_ms": round(self.max_send_delay_ms, 1),
                        "achieved_requests_per_s": round(self.ok / self.elapsed_s, 2) if self.elapsed_s else 0.0,
                        "latency_from_intended_ms": self.latency.as_dict()})
        return out


async def _post(session: aiohttp.ClientSession, url: str, body: Body, headers: dict[str, str],
                result: LoadResult, intended: float | None = None) -> float | None:
    """POST one body; record status; return ack time (perf_counter) on 200/204, else None.

    ``intended`` (perf_counter) is the open loop's intended send time: latency is measured from it, and every
    request (failed ones too) goes into ``result.latency``.
    """
    start = time.perf_counter() if intended is None else intended
    try:
        async with session.post(url, data=body.data, headers=headers) as response:
            text = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        status, text = -1, f"{type(exc).__name__}: {exc}".encode()
    done = time.perf_counter()
    result.requests += 1
    result.statuses[status] += 1
    if intended is not None:
        result.latency.record((done - start) * 1000)
    if status in (200, 204):
        result.ok += 1
        result.statements_ok += body.statements
        result.latencies_ms.append((done - start) * 1000)
        return done
    if not result.first_error:
        result.first_error = f"HTTP {status}: {text[:300].decode(errors='replace')}"
    return None


def _session(concurrency: int, timeout_s: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout_s))


async def blast(url: str, bodies: Sequence[Body], *, concurrency: int, headers: dict[str, str],
                max_seconds: float = 600.0, timeout_s: float = 120.0) -> LoadResult:
    """Closed loop: ``concurrency`` clients each POST the next body as soon as their previous one returned.

    Stops when every body was sent or ``max_seconds`` passed (the rate then covers what was done).
    """
    result = LoadResult()
    queue = iter(bodies)
    deadline = time.perf_counter() + max_seconds

    async def client(session: aiohttp.ClientSession) -> None:
        for body in queue:
            await _post(session, url, body, headers, result)
            if time.perf_counter() > deadline:
                return

    async with _session(concurrency, timeout_s) as session:
        start = time.perf_counter()
        await asyncio.gather(*(client(session) for _ in range(concurrency)))
        result.elapsed_s = time.perf_counter() - start
    return result


class Clock:
    """Real time for the open loop (tests inject a simulated one)."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``."""
        await asyncio.sleep(seconds)


@dataclass
class Schedule:
    """What an open loop did with its schedule."""

    due: int = 0
    sent: int = 0
    dropped: int = 0
    late: int = 0
    max_send_delay_s: float = 0.0
    elapsed_s: float = 0.0


LATE_AFTER_S = 0.010


async def open_loop(send: Callable[[int, float], Awaitable[None]], *, interval: float, duration_s: float,
                    max_in_flight: int, clock: Clock | None = None) -> Schedule:
    """Send request ``i`` at its intended time ``start + i * interval`` for ``duration_s``; corrected for
    coordinated omission.

    ``send(i, intended)`` runs in its own task and must time the request from ``intended`` (``clock`` time),
    not from when it actually went out. At most ``max_in_flight`` requests are outstanding: when the server is
    behind, due requests wait for a slot (late, their wait counted in their latency); when the run's time is
    up, requests that fell due but were never sent are ``dropped``. Returns once every sent request finished.
    """
    clock = clock or Clock()
    slots = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task] = set()
    schedule = Schedule(due=max(0, math.ceil(round(duration_s / interval, 9))))

    async def one(index: int, intended: float) -> None:
        try:
            await send(index, intended)
        finally:
            slots.release()

    start = clock.now()
    for index in range(schedule.due):
        intended = start + index * interval
        now = clock.now()
        if intended > now:
            await clock.sleep(intended - now)
        await slots.acquire()
        now = clock.now()
        if now - start >= duration_s:  # waited for a slot past the end: the rest is dropped
            slots.release()
            break
        delay = now - intended
        schedule.max_send_delay_s = max(schedule.max_send_delay_s, delay)
        if delay > LATE_AFTER_S:
            schedule.late += 1
        task = asyncio.ensure_future(one(index, intended))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        schedule.sent += 1
    if tasks:
        await asyncio.gather(*tasks)
    schedule.dropped = schedule.due - schedule.sent
    # The run's window: the whole schedule, longer if answers came after it (achieved = answered / window).
    schedule.elapsed_s = max(duration_s, clock.now() - start)
    return schedule


async def paced(url: str, bodies: Callable[[int], Body], *, per_request: int, statements_per_s: float,
                duration_s: float, headers: dict[str, str], max_in_flight: int = 64,
                on_ack: Callable[[Body, float, float], None] | None = None, timeout_s: float = 60.0) -> LoadResult:
    """Open loop (:func:`open_loop`): request ``i`` (body ``bodies(i)``) every ``per_request / statements_per_s``
    s for ``duration_s``, latency from each request's intended send time.

    ``on_ack(body, intended, acked)`` is called for every acknowledged request with the wall-clock
    (``time.time()``) intended send time and acknowledgement time. ``result.elapsed_s`` runs from the first
    intended send until the last answer, so ``ok / elapsed_s`` is the achieved rate.
    """
    result = LoadResult()
    interval = per_request / statements_per_s
    result.offered_per_s = 1 / interval

    async with _session(max_in_flight, timeout_s) as session:
        wall0, perf0 = time.time(), time.perf_counter()

        async def send(index: int, intended: float) -> None:
            body = bodies(index)
            acked = await _post(session, url, body, headers, result, intended=intended)
            if acked is not None and on_ack is not None:
                on_ack(body, wall0 + (intended - perf0), wall0 + (acked - perf0))

        schedule = await open_loop(send, interval=interval, duration_s=duration_s, max_in_flight=max_in_flight)
    result.elapsed_s = schedule.elapsed_s
    result.due, result.dropped, result.late = schedule.due, schedule.dropped, schedule.late
    result.max_send_delay_ms = schedule.max_send_delay_s * 1000
    return result


class FreshBodies:
    """Bodies ``i = 0, 1, ...`` of ``per_request`` corpus statements with fresh deterministic ids (never repeat)."""

    def __init__(self, templates: list[dict[str, Any]], per_request: int, salt: str) -> None:
        self.templates, self.per_request = templates, per_request
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"lrs-bench/{salt}")

    def __call__(self, index: int) -> Body:
        start = (index * self.per_request) % max(1, len(self.templates) - self.per_request)
        chunk = []
        for j, template in enumerate(self.templates[start:start + self.per_request]):
            statement = dict(template)
            statement["id"] = str(uuid.uuid5(self.namespace, f"{index}/{j}"))
            chunk.append(statement)
        return Body(orjson.dumps(chunk), tuple(s["id"] for s in chunk))
