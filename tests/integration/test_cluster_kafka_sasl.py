"""Kafka with SASL: the embedded Apache Kafka with a SASL_PLAINTEXT (PLAIN) listener, reached through the settings
(lrs.core.kafka.security): `lrs migrate`'s topics, the LRS's publisher, and a consumer; a wrong password is refused."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from lrs.core.config import Settings
from lrs.core.kafka.security import kafka_options
from lrs.core.kafka.topics import ensure_topics
from lrs.service.publisher import Publisher
from lrs.tools.stack import broker, process

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required username="broker" password="b-secret" '
        'user_broker="b-secret" user_lrs="lrs-secret";')


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One KRaft node whose client listener requires SASL/PLAIN; yields its port."""
    home = tmp_path_factory.mktemp("sasl")
    port = process.free_port_run(2)
    settings = Settings(state_dir=home, broker_port=port)
    java, cp = broker.java_binary(), broker.class_path(settings)
    config = home / "server.properties"
    config.write_text("".join(f"{k}={v}\n" for k, v in {
        "process.roles": "broker,controller", "node.id": 1,
        "controller.quorum.voters": f"1@127.0.0.1:{port + 1}",
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{port + 1}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER", "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": "PLAIN", "sasl.mechanism.inter.broker.protocol": "PLAIN",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "log.dirs": home / "data", "offsets.topic.replication.factor": 1, "offsets.topic.num.partitions": 1,
        "transaction.state.log.replication.factor": 1, "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1, "auto.create.topics.enable": "false",
        "num.network.threads": 2, "num.io.threads": 2,
    }.items()))
    subprocess.run([java, *broker.TOOL_FLAGS, "-cp", cp, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                    "-t", "c2FzbC10ZXN0LWNsdXN0ZXI", "-c", str(config)], check=True, capture_output=True, timeout=120)
    run_dir, log = home / "run", home / "broker.log"
    process.start_detached("sasl-broker", [java, *broker.HEAP, *broker.JVM_FLAGS, "-cp", cp, "kafka.Kafka",
                                           str(config)], run_dir=run_dir, log_path=log)
    try:
        deadline = time.monotonic() + 120
        while not process.port_in_use(port):
            assert time.monotonic() < deadline, Path(log).read_text()[-3000:]
            time.sleep(0.2)
        yield port
    finally:
        process.stop(run_dir, "sasl-broker")


def _settings(port: int, password: str) -> Settings:
    return Settings(kafka_bootstrap=f"127.0.0.1:{port}", kafka_security_protocol="SASL_PLAINTEXT",
                    kafka_sasl_username="lrs", kafka_sasl_password=password, topic_partitions=1, topic_replication=1,
                    produce_timeout_s=20)


def test_migrate_publish_and_consume_with_sasl(sasl_broker: int) -> None:
    import asyncio

    settings = _settings(sasl_broker, "lrs-secret")
    assert settings.statements_topic in ensure_topics(settings)
    publisher = Publisher(settings)
    try:
        statement = {"id": "00000000-0000-4000-8000-000000000001", "actor": {"mbox": "mailto:a@example.com"},
                     "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"}, "object": {"id": "http://x/1"}}
        asyncio.run(publisher.publish("acme", "key", [(b"acme", statement)]))
    finally:
        publisher.close()
    consumer = KafkaConsumer(settings.statements_topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", consumer_timeout_ms=20_000, **kafka_options(settings))
    try:
        values = [m.value for m in consumer]
    finally:
        consumer.close()
    assert len(values) == 1 and b"00000000-0000-4000-8000-000000000001" in values[0]


def test_wrong_password_is_refused(sasl_broker: int) -> None:
    with pytest.raises(KafkaError):
        ensure_topics(_settings(sasl_broker, "wrong"))
