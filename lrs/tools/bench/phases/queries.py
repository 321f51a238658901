"""Phase ``queries``: a big tenant generated straight into ClickHouse, then its reads, step by step.

The steps share the tenant (:class:`QueryData`) and run in this order: the analytics recompute
(:mod:`.analytics`), GET statements with filters and ``more`` paging (:mod:`.get`), every dashboard panel's SQL
(:mod:`.dashboards`). Their details go to ``extra["queries"]``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lrs.tools.bench import corpus
from lrs.tools.bench.phases import analytics, dashboards, get
from lrs.tools.bench.phases.common import QueryData
from lrs.tools.bench.stats import rate

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite


def run(suite: Suite) -> None:
    """Load ``query_rows`` statements into a fresh tenant, then run each read step on it."""
    env = suite.env
    assert env is not None
    tenant, key, secret = env.new_tenant("query")
    loaded, load_s, picks = load_rows(suite, tenant, key, suite.options.query_rows)
    data = QueryData(tenant, key, secret, loaded, picks,
                     info={"rows": loaded, "load_s": round(load_s, 1), "load_rows_per_s": round(rate(loaded, load_s))})
    suite.console.print(f"loaded {loaded:,} rows in {load_s:.0f}s")
    for step in (analytics.run, get.run, dashboards.run):
        step(suite, data)
    suite.extra["queries"] = data.info


def load_rows(suite: Suite, tenant: str, key: str, count: int) -> tuple[int, float, dict[str, Any]]:
    """Insert ``count`` corpus statements directly into ``statements``; pick filter values from them."""
    assert suite.env is not None
    from lrs.core.store.queries import query
    from lrs.core.xapi import actor_ifi

    client = suite.env.new_clickhouse()
    sql = query("statements_insert").sql
    loaded, start = 0, time.perf_counter()
    picks: dict[str, Any] = {}
    stored_max = 0
    try:
        for chunk in corpus.iter_chunks(suite.options.seed + 20):
            chunk = chunk[: count - loaded]
            rows = corpus.raw_rows(chunk, tenant=tenant, client_key=key)
            for i in range(0, len(rows), 50_000):
                client.execute(sql, rows[i:i + 50_000])
            if not picks:
                sample = chunk[len(chunk) // 2]
                grouping = sample["context"]["contextActivities"]["grouping"][0]["id"]
                picks = {"agent": sample["actor"], "verb": "http://adlnet.gov/expapi/verbs/answered",
                         "learner": actor_ifi(sample["actor"]), "course": grouping,
                         "activity": sample["object"]["id"],
                         "registration": sample["context"].get("registration", ""),
                         "early_since": chunk[len(chunk) // 4]["timestamp"]}
            stored_max = max(stored_max, max(r[2] for r in rows))
            loaded += len(chunk)
            if loaded >= count:
                break
    finally:
        client.disconnect()
    _age_recent_versions(suite)
    # `since`: about the last 2 % of the tenant's stored time range; dashboards: its last 7 days.
    first_us = int(corpus.START.timestamp() * 1e6)
    since_us = stored_max - (stored_max - first_us) // 50
    picks["since"] = datetime.fromtimestamp(since_us / 1e6, UTC).isoformat().replace("+00:00", "Z")
    picks["dashboard_to"] = stored_max // 1_000_000
    picks["dashboard_from"] = picks["dashboard_to"] - 7 * 86400
    return loaded, time.perf_counter() - start, picks


def _age_recent_versions(suite: Suite) -> None:
    """The history just loaded stands for months of statements: the versions of its ids are no longer in
    ``statement_versions_recent``, which the sink's conflict checks read (it keeps the last hours only;
    streams/conflicts.py). Drops every slot so far (also the earlier phases' few minutes of ingest)."""
    assert suite.env is not None
    from lrs.core.store.clickhouse import ClickHouse
    from streams.conflicts import SLOT_S, forget_old_versions

    settings = suite.env.settings
    pool = ClickHouse(settings, size=1)
    try:
        forget_old_versions(pool, settings, now_s=time.time() + settings.recent_versions_keep_s + SLOT_S)
    finally:
        pool.close()
