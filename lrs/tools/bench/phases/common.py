"""Helpers more than one phase uses: the closed-loop ingest run, timing SQL, the query tenant's data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrs.tools.bench.load import FreshBodies, LoadResult, blast, make_bodies, run_load
from lrs.tools.bench.monitor import clickhouse_cpu_split
from lrs.tools.bench.targets import MIN_RUN_REQUESTS, MIN_RUN_SECONDS

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def clickhouse_split(suite: Suite, start_s: float, end_s: float, server_cpu_s: float | None) -> dict[str, Any]:
    """:func:`clickhouse_cpu_split` of the suite's server over a measured run (Unix seconds); an ``error`` entry
    when the query log cannot say: a diagnostic never fails the run."""
    assert suite.env is not None
    client = suite.env.new_clickhouse()
    try:
        return clickhouse_cpu_split(client, start_s, end_s, server_cpu_s)
    except Exception as exc:  # noqa: BLE001 (the server's error, whatever it is, goes into the JSON)
        return {"error": str(exc)[:200]}
    finally:
        client.disconnect()


def ingest_run(suite: Suite, url: str, statements: list[dict[str, Any]], per_request: int, concurrency: int,
               headers: dict[str, str], salt: str = "ingest") -> tuple[LoadResult, int]:
    """Warm-up, then the measured closed-loop run (bounded by ``max_load_seconds``); (result, warm-up ok).

    The measured run has at least ``min_requests`` bodies: when ``statements`` are too few, bodies are made
    from them as templates with fresh ids (``salt`` makes them unique per run). :func:`short_run` tells whether
    the run still fell below the minimum (30 s or 100 requests) and must not be judged.
    """
    warm = min(max(1, len(statements) // per_request // 10), max(4, concurrency))  # credentials, connections
    needed = warm + suite.options.min_requests
    if len(statements) >= needed * per_request:
        bodies = make_bodies(statements, per_request)
    else:
        fresh = FreshBodies(statements, per_request, salt=salt)
        bodies = [fresh(i) for i in range(max(needed, -(-len(statements) // per_request)))]
    warmed = run_load(blast(url, bodies[:warm], concurrency=concurrency, headers=headers))
    result = run_load(blast(url, bodies[warm:], concurrency=concurrency, headers=headers,
                               max_seconds=suite.options.max_load_seconds))
    if not result.ok:
        raise RuntimeError(f"no request succeeded: {result.first_error}")
    return result, warmed.statements_ok


def short_run(suite: Suite, result: LoadResult) -> bool:
    """Whether a measured run was below both of the issue's minimums (30 s, 100 requests): shown, not judged.

    ``--quick`` runs are that short on purpose; the minimums do not follow ``--min-requests``.
    """
    return result.requests < MIN_RUN_REQUESTS and result.elapsed_s < MIN_RUN_SECONDS


def time_sql(suite: Suite, sql: str, repeats: int, params: dict[str, Any] | None = None) -> tuple[list[float], str]:
    """Milliseconds of each run of ``sql`` on a fresh client (a warm-up first; at least 3 runs within the
    query budget); an error ends the runs and is returned as text (the suite goes on)."""
    assert suite.env is not None
    client = suite.env.new_clickhouse()
    times: list[float] = []
    deadline = time.perf_counter() + suite.options.query_budget_s
    try:
        for i in range(repeats + 1):
            if len(times) >= 3 and time.perf_counter() > deadline:
                break
            start = time.perf_counter()
            client.execute(sql, params)
            elapsed = (time.perf_counter() - start) * 1000
            if i or elapsed > 1000:  # the first is a warm-up, unless it is slow anyway
                times.append(elapsed)
    except Exception as exc:
        return times, f"{type(exc).__name__}: {str(exc)[:300]}"
    finally:
        client.disconnect()
    return times, ""


@dataclass
class QueryData:
    """The big tenant the query steps (analytics, GET, dashboards) read, and what they found.

    ``picks`` holds filter values taken from the loaded statements (agent, verb, activity, course, learner,
    since, early_since, dashboard_from/to); ``info`` collects every step's details (``extra["queries"]``).
    """

    tenant: str
    key: str
    secret: str
    rows: int
    picks: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> str:
        """The tenant's size for row labels: ``20k``, ``1M``, ``10M``."""
        return size_label(self.rows)


def size_label(rows: int) -> str:
    """``1M`` for 1,000,000 rows, ``20k`` for 20,000."""
    return f"{rows / 1e6:g}M" if rows >= 1_000_000 else f"{rows / 1e3:g}k"


def slug(text: str) -> str:
    """``text`` as a result key part: lower case, every other character an underscore."""
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
