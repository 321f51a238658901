"""Concurrent single-statement POSTs of one client share Kafka messages (lrs/service/publisher.py SharedMessages)."""

from __future__ import annotations

import asyncio

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from tests.support import Pipeline, statement, wait_until

pytestmark = pytest.mark.integration
REQUESTS = 48  # per tenant and round


async def _post_all(base_url: str, clients: list[httpx.Client], bodies: list[list[dict]]) -> list[int]:
    """POST each client's bodies, all at once (interleaved between the clients)."""
    async_clients = [httpx.AsyncClient(base_url=base_url, auth=c.auth, headers=c.headers, timeout=30,
                                       limits=httpx.Limits(max_connections=REQUESTS)) for c in clients]
    try:
        calls = [async_clients[i].post("/xapi/statements", json=body)
                 for k in range(REQUESTS) for i, per_client in enumerate(bodies) for body in [per_client[k]]]
        return [r.status_code for r in await asyncio.gather(*calls)]
    finally:
        for c in async_clients:
            await c.aclose()


def test_concurrent_posts_of_one_client_share_messages_and_each_is_stored_once(pipeline: Pipeline) -> None:
    topic = pipeline.settings.statements_topic
    tenants = [pipeline.new_tenant(), pipeline.new_tenant()]
    consumer = KafkaConsumer(bootstrap_servers=pipeline.settings.kafka_bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        for part, offset in consumer.end_offsets(parts).items():
            consumer.seek(part, offset)
        sent: dict[str, list[str]] = {tenant: [] for tenant, _ in tenants}
        messages: dict[str, list[list[str]]] = {tenant: [] for tenant, _ in tenants}
        for _ in range(3):  # rounds, until requests met in one turn of the LRS's loop (nearly always the first)
            bodies = [[statement(actor=f"l{k}@example.com") for k in range(REQUESTS)] for _ in tenants]
            for (tenant, _), body in zip(tenants, bodies, strict=True):
                sent[tenant] += [s["id"] for s in body]
            statuses = asyncio.run(_post_all(pipeline.base_url, [c for _, c in tenants], bodies))
            assert statuses == [200] * len(statuses)

            def all_read() -> bool:
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        doc = orjson.loads(record.value) if record.value.startswith(b"{") else {}
                        if doc.get("tenant") in messages:
                            messages[doc["tenant"]].append([s["id"] for s in doc["statements"]])
                return all(sum(map(len, messages[t])) == len(sent[t]) for t in sent)

            wait_until(all_read, 30, interval=0, what="every POSTed statement in the topic")
            if all(max(map(len, messages[t])) > 1 for t in sent):
                break
        for tenant, ids in sent.items():
            in_topic = [i for message in messages[tenant] for i in message]
            # Each request's statement once, in its own tenant's messages only (a message has one tenant).
            assert sorted(in_topic) == sorted(ids)
            assert len(messages[tenant]) < len(ids), "concurrent requests of one client share messages"
        for tenant, http in tenants:
            with http:
                wait_until(lambda t=tenant: pipeline.stored_count(t) == len(sent[t]), 60,
                           what=f"{tenant}'s statements in ClickHouse")
                probe = sent[tenant][::17]
                assert all(http.get("/xapi/statements", params={"statementId": i}).status_code == 200 for i in probe)
    finally:
        consumer.close()
