"""Shared fixtures: one real pipeline per test session for the integration tests that do not break it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Pipeline, make_settings


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cluster: runs against the replicated cluster stack (`lrs stack up --cluster`)")


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Broker + ClickHouse + migrations + LRS + one worker, shared by non-destructive tests."""
    running = Pipeline(make_settings(tmp_path_factory.mktemp("pipeline"))).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """The cluster stack (3 Kafka nodes, ZooKeeper, 2 ClickHouse replicas of one shard) + cluster migrations + LRS
    + one worker. Tests that kill a service start it again before they end."""
    import random

    from lrs.tools.stack.process import port_in_use

    # Below Linux's ephemeral range (32768+): the JVMs start for tens of seconds before the replicas bind, and an
    # ephemeral port picked now may meanwhile be some process's outgoing connection.
    while True:
        base = random.randrange(20000, 32000, 20)
        if not any(port_in_use(p) for p in range(base, base + 14)):
            break
    settings = make_settings(tmp_path_factory.mktemp("cluster"), brokers=3, clickhouse_replicas=2,
                             clickhouse_cluster="lrs", clickhouse_tcp_port=base, clickhouse_http_port=base + 4,
                             zookeeper_port=base + 6, broker_port=base + 7, http_port=base + 13, clickhouse_url="",
                             kafka_bootstrap="", analytics_refresh_s=0.5)
    running = Pipeline(settings)
    try:
        running.stack.up(timeout=240)  # three JVMs and two servers starting together on a 2-core machine
        running.start()
        yield running
    finally:
        running.stop()
