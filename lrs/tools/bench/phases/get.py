"""Step of the ``queries`` phase: GET statements with every filter, ``more`` paging and HEAD on the big tenant, and
the GET while another tenant ingests at full speed (issue 16)."""

from __future__ import annotations

import json
import multiprocessing
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx

from lrs.tools.bench import corpus
from lrs.tools.bench.load import basic_headers, blast, make_bodies, run_load
from lrs.tools.bench.phases.common import QueryData
from lrs.tools.bench.report import Result, Target
from lrs.tools.bench.stats import summarize

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def filters(data: QueryData) -> dict[str, dict[str, str]]:
    """The GET queries timed, by name (the row key is ``queries.get_<name>.p99``): every filter of issue 16."""
    picks = data.picks
    agent = json.dumps(picks["agent"], separators=(",", ":"))
    verb = picks["verb"]
    chosen = {
        "unfiltered": {},
        "agent": {"agent": agent},
        "verb": {"verb": verb},
        "activity": {"activity": picks["activity"]},
        "registration": {"registration": picks.get("registration", "")},
        "related_activities": {"activity": picks["course"], "related_activities": "true"},
        "related_agents": {"agent": agent, "related_agents": "true"},
        "since": {"since": picks["since"]},
        "until": {"until": picks["early_since"]},
        "ascending": {"ascending": "true"},
        "verb+ascending": {"verb": verb, "ascending": "true"},
        "agent+verb+since": {"agent": agent, "verb": verb, "since": picks["early_since"]},
        "activity+verb": {"activity": picks["activity"], "verb": verb},
        "registration+verb": {"registration": picks.get("registration", ""), "verb": verb},
    }
    return {name: {**params, "limit": "100"} for name, params in chosen.items() if all(params.values())}


# Filters whose `more` pages are timed too (each page continues the query where the last one ended).
PAGED = ("unfiltered", "agent", "verb", "related_activities")
GET_TARGET = Target("<", 100)  # issue 16: every filter, first and `more` pages, at 1M and 10M
CROSS_TENANT_TARGET = Target("<", 150)  # issue 16: GET p99 while another tenant ingests at full speed


def run(suite: Suite, data: QueryData) -> None:
    """One row per filter (p99 over HTTP, with its SQL alone timed too), its ``more`` pages, HEAD, and the GET
    p99 while another tenant ingests at full speed."""
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
                             "ms", s.p99, target=GET_TARGET, details=info[f"get.{name}"]))
            if name in PAGED:
                # Filtered: small pages, so that a sparse filter (one learner) has `more` pages too.
                paged = path if name == "unfiltered" else f"/xapi/statements?{urlencode({**params, 'limit': '10'})}"
                times_more = time_more(suite, http, paged, o.pages, o.query_repeats)
                if not times_more:
                    continue
                pages = summarize(times_more)
                info[f"get.{name}.more"] = {"latency_ms": pages.as_dict(), "pages": o.pages}
                key = "queries.more.p99" if name == "unfiltered" else f"queries.more_{name}.p99"
                suite.add(Result(key, f"GET more pages ?{name} ({size}): p99 (p50 {pages.p50:,.0f} ms)", "ms",
                                 pages.p99, target=GET_TARGET, details=info[f"get.{name}.more"]))
        agent_path = f"/xapi/statements?{urlencode(filters(data)['agent'])}"
        head = summarize(time_get(suite, http, agent_path, o.query_repeats, method="HEAD")[0])
        info["get.head_agent"] = {"latency_ms": head.as_dict()}
        suite.add(Result("queries.head_agent.p99", f"HEAD ?agent ({size}): p99 (p50 {head.p50:,.0f} ms)", "ms",
                         head.p99, target=GET_TARGET, details=info["get.head_agent"]))
        storage(suite, data)
        cross_tenant(suite, data, http, agent_path)


# The tables a statement is written to (the raw table, its copies and the lookup tables of GET).
STATEMENT_TABLES = ("statements", "statement_json_by_month", "statements_by_stored_month", "statements_by_time",
                    "statements_by_learner", "statement_id_keys", "statement_keys_by_month",
                    "statement_key_hours_by_month")


def storage(suite: Suite, data: QueryData) -> None:
    """Compressed bytes per statement of each statement table (the query tenant is nearly all of the data)."""
    assert suite.env is not None
    from lrs.core.store.clickhouse import ClickHouse

    clickhouse = ClickHouse(suite.env.settings, size=1)
    try:
        tables = {t: (int(rows), int(comp), int(unc)) for t, rows, comp, unc in clickhouse.run("storage_by_table")}
    finally:
        clickhouse.close()
    per = {t: {"rows": tables[t][0], "compressed_bytes_per_statement": round(tables[t][1] / max(data.rows, 1), 1),
               "uncompressed_bytes_per_statement": round(tables[t][2] / max(data.rows, 1), 1)}
           for t in STATEMENT_TABLES if t in tables}
    total = sum(v["compressed_bytes_per_statement"] for v in per.values())
    data.info["storage"] = {"tables": per, "compressed_bytes_per_statement": round(total, 1)}
    suite.add(Result("queries.bytes_per_statement", f"Stored bytes per statement, compressed ({data.size}; "
                     + ", ".join(f"{t} {v['compressed_bytes_per_statement']:,.0f}" for t, v in per.items()) + ")",
                     "B", total, details=data.info["storage"]))


def cross_tenant(suite: Suite, data: QueryData, http: httpx.Client, path: str) -> None:
    """GET p99 of this tenant while another tenant POSTs batches as fast as the LRS takes them (closed loop).

    The flood's client runs in a process of its own: in a thread of this one, its JSON and HTTP work held the
    GIL between the GET's reads and was counted as the GET's latency.
    """
    env = suite.env
    assert env is not None
    o = suite.options
    tenant, key, secret = env.new_tenant("flood")
    flood_size = 20_000 if o.query_rows >= 100_000 else 2_000  # --quick: a short flood
    context = multiprocessing.get_context("spawn")
    started, results = context.Event(), context.Queue()
    process = context.Process(target=flood, name="bench-flood", daemon=True,
                              args=(f"{env.base_url}/xapi/statements", key, secret, flood_size, o.seed + 99,
                                    o.query_budget_s + 30, started, results))
    process.start()
    if not started.wait(timeout=300):
        process.kill()
        raise RuntimeError("the flood's client did not start within 300 s")
    time.sleep(2)  # the flood is under way
    times: list[float] = []
    while process.is_alive() and len(times) < max(o.query_repeats, 20):
        times += time_get(suite, http, path, 1)[0]
    loaded: dict[str, Any] = results.get(timeout=o.query_budget_s + 60)
    process.join(timeout=30)
    s = summarize(times)
    info = data.info["get.cross_tenant"] = {"latency_ms": s.as_dict(), "flood": loaded}
    suite.add(Result("queries.get_cross_tenant.p99",
                     f"GET ?agent while another tenant ingests ({data.size}): p99 (p50 {s.p50:,.0f} ms)", "ms",
                     s.p99, target=CROSS_TENANT_TARGET, details=info))


def flood(url: str, key: str, secret: str, size: int, seed: int, max_seconds: float, started: Any,
          results: Any) -> None:
    """The other tenant's closed-loop POSTs (4 concurrent, 100 statements each), run in its own process; puts
    what it sent on ``results``."""
    bodies = make_bodies(corpus.take(size, seed=seed), 100)
    started.set()
    start = time.perf_counter()
    result = run_load(blast(url, bodies, concurrency=4, headers=basic_headers(key, secret),
                               max_seconds=max_seconds))
    elapsed = time.perf_counter() - start
    results.put({"statements": result.statements_ok, "elapsed_s": round(elapsed, 1),
                 "statements_per_s": round(result.statements_ok / max(elapsed, 1e-9)),
                 "failed": result.requests - result.ok})


def time_get(suite: Suite, http: httpx.Client, path: str, repeats: int,
             method: str = "GET") -> tuple[list[float], int]:
    """Milliseconds of each GET (or HEAD) of ``path`` (a warm-up first) and how many statements the last one
    returned."""
    times, returned = [], 0
    deadline = time.perf_counter() + suite.options.query_budget_s
    for i in range(repeats + 1):
        if len(times) >= 3 and time.perf_counter() > deadline:
            break
        start = time.perf_counter()
        response = http.request(method, path)
        elapsed = (time.perf_counter() - start) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path[:120]}: {response.status_code} {response.text[:200]}")
        if i or elapsed > 1000:  # the first is a warm-up, unless it is slow anyway
            times.append(elapsed)
        returned = len(response.json()["statements"]) if method == "GET" else 0
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
