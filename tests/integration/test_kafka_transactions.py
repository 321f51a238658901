"""Kafka transactions on the real broker: the workers never store what a transaction did not commit, and a
request spanning several partitions is written in one transaction."""

from __future__ import annotations

import uuid

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from lrs.core.kafka.envelope import encode_statements
from tests.support import Pipeline, statement, wait_until

pytestmark = pytest.mark.integration


def test_aborted_transaction_is_never_stored(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    http.close()
    aborted, committed = statement(actor="a@example.com"), statement(actor="c@example.com")
    for body in (aborted, committed):
        body.update(stored="2026-12-02T00:00:00.000Z", timestamp="2026-12-02T00:00:00.000Z", version="1.0.3",
                    authority={"objectType": "Agent", "mbox": "mailto:test@example.com"})
    producer = KafkaProducer(bootstrap_servers=pipeline.settings.kafka_bootstrap, acks="all",
                             transactional_id=f"test-{uuid.uuid4().hex}")
    try:
        producer.init_transactions()
        producer.begin_transaction()
        producer.send(pipeline.settings.statements_topic, key=b"k",
                      value=encode_statements(tenant, "", [orjson.dumps(aborted)]), partition=0)
        producer.flush()  # in the log, but never committed
        producer.abort_transaction()
        producer.begin_transaction()
        producer.send(pipeline.settings.statements_topic, key=b"k",
                      value=encode_statements(tenant, "", [orjson.dumps(committed)]), partition=0)
        producer.commit_transaction()
    finally:
        producer.close()
    wait_until(lambda: pipeline.stored_count(tenant) >= 1, 60, what="the committed statement in ClickHouse")
    # The aborted message precedes the committed one in the same partition: a worker reading uncommitted
    # would have stored it in the same batch or an earlier one.
    client = pipeline.clickhouse()
    try:
        ids = {r[0] for r in client.execute("SELECT statement_id FROM statements WHERE tenant = %(t)s", {"t": tenant})}
    finally:
        client.disconnect()
    assert ids == {committed["id"]}, "the aborted message was skipped (read_committed)"


def test_a_request_over_several_partitions_is_one_transaction(pipeline: Pipeline) -> None:
    """Each of its messages is followed by a commit marker, which takes one offset: nothing else writes to the
    topic meanwhile (tests run one at a time), so every partition ends two past where it ended before."""
    tenant, http = pipeline.new_tenant()
    batch = [statement(actor=f"l{i}@example.com") for i in range(40)]  # 40 learners: every partition
    topic = pipeline.settings.statements_topic
    consumer = KafkaConsumer(bootstrap_servers=pipeline.settings.kafka_bootstrap, isolation_level="read_committed",
                             enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        before = consumer.end_offsets(parts)
        with http:
            assert http.post("/xapi/statements", json=batch).status_code == 200
        for part in parts:  # read only what the request wrote (not the whole topic)
            consumer.seek(part, before[part])
        found: dict[int, int] = {}

        def every_partition_read() -> bool:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    if record.value.startswith(b"{") and orjson.loads(record.value).get("tenant") == tenant:
                        found[record.partition] = record.offset
            return len(found) == len(parts)

        wait_until(every_partition_read, 30, interval=0, what=f"the request's message in every partition: {found}")
        # Read now: the coordinator writes the commit markers after answering the commit, and a read_committed
        # consumer sees the messages only once they are written.
        after = consumer.end_offsets(parts)
    finally:
        consumer.close()
    assert {p.partition: after[p] - before[p] for p in parts} == {p.partition: 2 for p in parts}
    assert {p: after[TopicPartition(topic, p)] - offset for p, offset in found.items()} == {p: 2 for p in found}
