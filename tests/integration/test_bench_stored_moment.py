"""The bench's stored moment on real ClickHouse: never before the last statement is readable, and a duplicate row
of one statement never stands in for another statement."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from lrs.core.store.clickhouse import ClickHouse, make_client
from lrs.tools.bench import corpus
from lrs.tools.bench.env import BenchEnv
from tests.support import Pipeline

pytestmark = pytest.mark.integration


def _bench_env(pipeline: Pipeline, tmp_path: Path) -> BenchEnv:
    # Only its ClickHouse reads are used: pointed at the test pipeline's server, nothing of its own started.
    return BenchEnv(tmp_path, clickhouse_url=pipeline.settings.clickhouse_url)


def _rows(tenant: str, count: int) -> list[list]:
    statements = [{**s, "id": str(uuid.uuid4())} for s in corpus.take(count)]
    return corpus.raw_rows(statements, tenant=tenant, client_key="k")


def test_the_stored_moment_waits_for_the_last_insert(pipeline: Pipeline, tmp_path: Path) -> None:
    env = _bench_env(pipeline, tmp_path)
    tenant = f"moment{uuid.uuid4().hex[:8]}"
    rows = _rows(tenant, 30)
    store = ClickHouse(pipeline.settings, size=1)
    store.insert("statements_insert", rows[:20])
    delay = 0.6

    def last_rows_later() -> None:
        time.sleep(delay)
        store.insert("statements_insert", rows[20:])

    writer = threading.Thread(target=last_rows_later)
    started = time.perf_counter()
    writer.start()
    try:
        waited_from = time.perf_counter()
        took = env.wait_stored(tenant, 30, timeout=30)
    finally:
        writer.join()
        store.close()
    # Not before the last insert began (it began ``delay`` after ``started``), and late by little (50 ms polls).
    assert waited_from + took >= started + delay
    assert took <= delay + 1.0
    assert env.stored(tenant) == 30


def test_a_duplicate_row_does_not_count_as_a_statement(pipeline: Pipeline, tmp_path: Path) -> None:
    env = _bench_env(pipeline, tmp_path)
    tenant = f"moment{uuid.uuid4().hex[:8]}"
    rows = _rows(tenant, 10)
    store = ClickHouse(pipeline.settings, size=1)
    client = make_client(pipeline.settings)
    # A merge would fold the copy into its original at any moment: none runs on the table meanwhile.
    client.execute("SYSTEM STOP MERGES statements")
    try:
        store.insert("statements_insert", rows[:9])
        store.insert("statements_insert", rows[8:9])  # a redelivered copy: 10 rows, 9 statements
        assert env.rows_of(tenant) == 10
        with pytest.raises(RuntimeError, match=r"9 stored"):
            env.wait_stored(tenant, 10, timeout=1)
    finally:
        client.execute("SYSTEM START MERGES statements")
        client.disconnect()
        store.close()


def test_the_query_split_counts_calls_differing_only_in_numbers_as_one_kind(pipeline: Pipeline) -> None:
    from lrs.core.store.queries import query
    from lrs.tools.bench.monitor import clickhouse_cpu_split

    client = make_client(pipeline.settings)
    try:
        start = time.time()
        time.sleep(1.1)  # the split reads the whole seconds inside its window
        for keys in ((1, 2), (3, 4, 5), (6789012345678901234,)):
            client.execute(query("stored_keys").sql, {"keys": keys}, settings={"log_queries": 1})
        time.sleep(1.1)
        split = clickhouse_cpu_split(client, start, time.time(), None)
    finally:
        client.disconnect()
    kinds = [q for q in split["by_query"] if q["query"].startswith("SELECT key FROM statement_id_keys WHERE key IN")]
    assert len(kinds) == 1 and kinds[0]["count"] == 3, split["by_query"]
