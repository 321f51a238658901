"""Step of the ``queries`` phase: GET statements with common filters, and ``more`` paging, on the big tenant."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx

from lrs.tools.bench.phases.common import QueryData
from lrs.tools.bench.report import Result
from lrs.tools.bench.stats import summarize

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def filters(data: QueryData) -> dict[str, dict[str, str]]:
    """The GET queries timed, by name (the row key is ``queries.get_<name>.p99``)."""
    picks = data.picks
    agent = json.dumps(picks["agent"], separators=(",", ":"))
    return {
        "unfiltered": {"limit": "100"},
        "agent": {"agent": agent, "limit": "100"},
        "verb": {"verb": picks["verb"], "limit": "100"},
        "activity": {"activity": picks["activity"], "limit": "100"},
        "since": {"since": picks["since"], "limit": "100"},
        "agent+verb+since": {"agent": agent, "verb": picks["verb"], "since": picks["early_since"], "limit": "100"},
    }


def run(suite: Suite, data: QueryData) -> None:
    """One row per filter (p99 over HTTP, with its SQL alone timed too), then one for ``more`` pages."""
    env = suite.env
    assert env is not None
    o = suite.options
    size, info = data.size, data.info
    http = httpx.Client(base_url=env.base_url, auth=(data.key, data.secret), timeout=120,
                        headers={"X-Experience-API-Version": "1.0.3"})
    with http:
        for name, params in filters(data).items():
            path = f"/xapi/statements?{urlencode(params)}"
            times, returned = time_get(suite, http, path, o.query_repeats)
            s = summarize(times)
            sql_times, _ = time_statement_query(suite, data.tenant, params, 2)  # warmed by the GETs just now
            sql = summarize(sql_times)
            info[f"get.{name}"] = {"latency_ms": s.as_dict(), "sql_only_ms": sql.as_dict(), "returned": returned,
                                   "params": params}
            suite.add(Result(f"queries.get_{name}.p99",
                             f"GET ?{name} ({size}): p99 (p50 {s.p50:,.0f} ms; its SQL alone p50 {sql.p50:,.0f} ms)",
                             "ms", s.p99, details=info[f"get.{name}"]))
        pages = time_more(suite, http, "/xapi/statements?limit=100", o.pages, o.query_repeats)
        s = summarize(pages)
        info["get.more"] = {"latency_ms": s.as_dict(), "pages": o.pages}
        suite.add(Result("queries.more.p99", f"GET more pages ({size}): p99 (p50 {s.p50:,.0f} ms)", "ms", s.p99,
                         details=info["get.more"]))


def time_get(suite: Suite, http: httpx.Client, path: str, repeats: int) -> tuple[list[float], int]:
    """Milliseconds of each GET of ``path`` (a warm-up first) and how many statements the last one returned."""
    times, returned = [], 0
    deadline = time.perf_counter() + suite.options.query_budget_s
    for i in range(repeats + 1):
        if len(times) >= 3 and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        response = http.get(path)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"GET {path[:120]}: {response.status_code} {response.text[:200]}")
        if i or elapsed > 1000:  # the first is a warm-up, unless it is slow anyway
            times.append(elapsed)
        returned = len(response.json()["statements"])
    return times, returned


def time_more(suite: Suite, http: httpx.Client, path: str, pages: int, repeats: int) -> list[float]:
    """Milliseconds of each ``more`` GET, following up to ``pages`` pages from ``path``."""
    times: list[float] = []
    deadline = time.perf_counter() + suite.options.query_budget_s
    for _ in range(max(1, repeats // pages)):
        if len(times) >= 3 and time.perf_counter() > deadline:
            break
        response = http.get(path)
        for _ in range(pages):
            more = response.json().get("more")
            if not more:
                break
            start = time.perf_counter()
            response = http.get(more)
            times.append((time.perf_counter() - start) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET more: {response.status_code} {response.text[:200]}")
    return times


def time_statement_query(suite: Suite, tenant: str, params: dict[str, str],
                         repeats: int) -> tuple[list[float], str]:
    """The SQL a GET runs (page ids, then their JSON), timed alone (no HTTP, auth, consistency wait or JSON)."""
    assert suite.env is not None
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.statements.page import read_page
    from lrs.service.statements.query import parse_query

    q = parse_query(params, tenant=tenant, client_key="", version="1.0.3")
    clickhouse = ClickHouse(suite.env.settings, size=1)
    times: list[float] = []
    try:
        for i in range(repeats + 1):
            start = time.perf_counter()
            read_page(clickhouse, q)
            if i:  # the first is a warm-up
                times.append((time.perf_counter() - start) * 1000)
    except Exception as exc:  # noqa: BLE001 - reported in the results, the suite goes on
        return times, f"{type(exc).__name__}: {exc}"
    finally:
        clickhouse.close()
    return times, ""
