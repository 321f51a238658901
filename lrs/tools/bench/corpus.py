"""The deterministic corpus: brand-learning cohorts from :mod:`lrs.tools.demo.cohort`, as many as needed.

Chunk ``k`` is a cohort generated with seed ``seed + k`` whose learners are renamed ``k<k>-...``, so chunks never
share a learner or a statement id. The same seed always gives the same statements, in the same order.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from lrs.core.kafka.envelope import Envelope, encode, message_key
from lrs.core.util.timeparse import format_timestamp, timestamp_micros
from lrs.core.xapi import actor_ifi
from lrs.tools.demo.cohort import generate_cohort

LEARNERS_PER_CHUNK = 2000
START = datetime(2026, 9, 1, tzinfo=UTC)


def _rename(actor: dict[str, Any], chunk: int) -> dict[str, Any]:
    actor = copy.deepcopy(actor)
    if "mbox" in actor:
        actor["mbox"] = actor["mbox"].replace("mailto:", f"mailto:k{chunk}-", 1)
    if "account" in actor:
        actor["account"]["name"] = f"k{chunk}-{actor['account']['name']}"
    return actor


def iter_chunks(seed: int = 7, brand: str = "acme") -> Iterator[list[dict[str, Any]]]:
    """Endless cohorts (each about 60k statements), deterministic per ``seed``."""
    chunk = 0
    while True:
        cohort = generate_cohort(brand=brand, learners=LEARNERS_PER_CHUNK, seed=seed + chunk, start=START)
        statements = cohort.statements
        if chunk:
            renamed: dict[str, dict[str, Any]] = {}
            for s in statements:
                name = s["actor"]["name"]
                if name not in renamed:
                    renamed[name] = _rename(s["actor"], chunk)
                s["actor"] = renamed[name]
        yield statements
        chunk += 1


def take(count: int, seed: int = 7, brand: str = "acme") -> list[dict[str, Any]]:
    """The first ``count`` statements of the corpus."""
    out: list[dict[str, Any]] = []
    for statements in iter_chunks(seed, brand):
        out.extend(statements[: count - len(out)])
        if len(out) >= count:
            return out
    return out  # unreachable: the chunks never end


def stored_form(statement: dict[str, Any], *, tenant: str, client_key: str, stored: str) -> dict[str, Any]:
    """``statement`` as the LRS would publish it (stored, authority, version set)."""
    prepared = dict(statement)
    prepared["id"] = str(prepared["id"]).lower()
    prepared.setdefault("timestamp", stored)
    prepared["stored"] = stored
    prepared["authority"] = {"objectType": "Agent", "name": f"{tenant} client",
                             "account": {"homePage": f"https://lrs.local/tenants/{tenant}", "name": client_key}}
    prepared.setdefault("version", "1.0.0")
    return prepared


def raw_rows(statements: Sequence[dict[str, Any]], *, tenant: str, client_key: str) -> list[list[Any]]:
    """Rows of the raw ``statements`` table (via the sink's own row builder), stored 1-30 s after the timestamp."""
    from streams.rows import statement_row

    rows = []
    for i, s in enumerate(statements):
        stored = format_timestamp(datetime.fromtimestamp(timestamp_micros(s["timestamp"]) / 1e6, UTC)
                                  + timedelta(seconds=1 + i % 30))
        rows.append(statement_row(Envelope(tenant, stored_form(s, tenant=tenant, client_key=client_key,
                                                                stored=stored), client_key)))
    return rows


def produce(settings: Any, statements: Sequence[dict[str, Any]], *, tenant: str, client_key: str) -> float:
    """Publish ``statements`` straight to the statements topic (as the LRS would); return the seconds it took."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap.split(","), acks="all",
                             enable_idempotence=True, linger_ms=5, batch_size=256 * 1024, compression_type="lz4",
                             request_timeout_ms=30_000)
    start = time.perf_counter()
    try:
        stored = format_timestamp(datetime.now(UTC))
        for s in statements:
            prepared = stored_form(s, tenant=tenant, client_key=client_key, stored=stored)
            producer.send(settings.statements_topic, key=message_key(tenant, actor_ifi(prepared["actor"])),
                          value=encode(Envelope(tenant, prepared, client_key)))
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=10)
    return time.perf_counter() - start
