"""Poison messages on the statements topic go to the dead-letter topic with a reason; processing goes on."""

from __future__ import annotations

import base64
import uuid

import orjson
from kafka import KafkaConsumer, KafkaProducer

from tests.support import Pipeline, statement, wait_until


def test_poison_messages_are_dead_lettered_and_processing_continues(pipeline: Pipeline) -> None:
    settings = pipeline.settings
    tenant, http = pipeline.new_tenant()
    marker = uuid.uuid4().hex
    poison = [
        f"not json {marker}".encode(),
        orjson.dumps({"v": 99, "tenant": tenant, "statement": {"id": marker}}),
        orjson.dumps({"v": 1, "tenant": "", "statement": {"note": marker}}),
    ]
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    for value in poison:
        # Same key as the good statement below: same partition, so the poison sits in front of it.
        producer.send(settings.statements_topic, key=f"{tenant}|mailto:learner@example.com".encode(), value=value)
    producer.flush()
    producer.close()

    good = statement()
    assert http.post("/xapi/statements", json=good).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": good["id"]}).status_code == 200
    wait_until(lambda: pipeline.stored_count(tenant) == 1, 30, what="the good statement behind the poison")

    consumer = KafkaConsumer(settings.dead_letter_topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, group_id=None,
                             consumer_timeout_ms=3000)
    found = {}

    def collect() -> bool:
        for message in consumer:
            event = orjson.loads(message.value)
            original = base64.b64decode(event["value_b64"])
            if marker.encode() in original:
                assert message.key.decode() == f"{event['source_topic']}:{event['partition']}:{event['offset']}"
                found[original] = event
        return len(found) == len(poison)

    wait_until(collect, 60, interval=0.5, what="three dead letters")
    consumer.close()
    reasons = {original: event["reason"] for original, event in found.items()}
    assert set(reasons) == set(poison)
    assert reasons[poison[0]].startswith("invalid JSON")
    assert "version" in reasons[poison[1]]
    assert "tenant" in reasons[poison[2]]
    assert all(e["source_topic"] == settings.statements_topic for e in found.values())
