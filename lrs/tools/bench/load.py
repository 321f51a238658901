"""HTTP load generation (aiohttp): closed-loop blasts with N concurrent clients, and paced steady load.

Bodies are serialized before the clock starts, so the client spends its share of the 2 cores on sending,
not on JSON encoding.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson


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
    """What a load run did: counts, time and per-request latencies (ms) of successful requests."""

    requests: int = 0
    ok: int = 0
    statements_ok: int = 0
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    first_error: str = ""
    skipped: int = 0

    def as_details(self) -> dict[str, Any]:
        """JSON-ready counters (latencies summarized by the caller)."""
        return {"requests": self.requests, "ok": self.ok, "statements_ok": self.statements_ok,
                "elapsed_s": round(self.elapsed_s, 3), "statuses": {str(k): v for k, v in self.statuses.items()},
                "skipped": self.skipped,
                "first_error": self.first_error[:300]}


async def _post(session: aiohttp.ClientSession, url: str, body: Body, headers: dict[str, str],
                result: LoadResult) -> float | None:
    """POST one body; record status; return ack time (perf_counter) on 200/204, else None."""
    start = time.perf_counter()
    try:
        async with session.post(url, data=body.data, headers=headers) as response:
            text = await response.read()
            status = response.status
    except (TimeoutError, aiohttp.ClientError) as exc:
        status, text = -1, f"{type(exc).__name__}: {exc}".encode()
    done = time.perf_counter()
    result.requests += 1
    result.statuses[status] += 1
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


async def paced(url: str, bodies: Callable[[int], Body], *, per_request: int, statements_per_s: float,
                duration_s: float, headers: dict[str, str], max_in_flight: int = 64,
                on_ack: Callable[[Body, float, float], None] | None = None, timeout_s: float = 60.0) -> LoadResult:
    """Open loop: request ``i`` (body ``bodies(i)``) every ``per_request / statements_per_s`` s for ``duration_s``.

    ``on_ack(body, sent, acked)`` is called for every acknowledged request with ``time.time()`` at send and ack.
    When ``max_in_flight`` requests are outstanding, due requests are skipped (counted in ``skipped``): the offered
    rate is then not reached, but the run still ends on time.
    """
    result = LoadResult()
    interval = per_request / statements_per_s
    limit = asyncio.Semaphore(max_in_flight)
    tasks: set[asyncio.Task] = set()

    async def one(session: aiohttp.ClientSession, body: Body) -> None:
        async with limit:
            sent = time.time()
            acked = await _post(session, url, body, headers, result)
            if acked is not None and on_ack is not None:
                on_ack(body, sent, time.time())

    async with _session(max_in_flight, timeout_s) as session:
        start = time.perf_counter()
        index = 0
        while True:
            due = start + index * interval
            now = time.perf_counter()
            if due - start >= duration_s:
                break
            if due > now:
                await asyncio.sleep(due - now)
            if len(tasks) >= max_in_flight:
                result.skipped += 1  # the server is behind: do not build an unbounded backlog
                index += 1
                continue
            task = asyncio.create_task(one(session, bodies(index)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        if tasks:
            await asyncio.gather(*tasks)
        result.elapsed_s = time.perf_counter() - start
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
