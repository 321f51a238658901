"""The embedded local stack: real Apache Kafka (KRaft) and ClickHouse on free loopback ports, in a tmp state dir."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver import Client
from kafka import KafkaAdminClient

from lrs.core.config import Settings
from lrs.tools.stack import broker, clickhouse, process
from lrs.tools.stack.stack import LocalStack, StackError
from tests.support import free_port_run, free_ports

pytestmark = pytest.mark.integration


def _settings(state_dir: Path) -> Settings:
    tcp, http = free_ports(2)
    broker = free_port_run(2, exclude=(tcp, http))
    return Settings(state_dir=state_dir, broker_port=broker, clickhouse_tcp_port=tcp, clickhouse_http_port=http)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A stack that is not started yet; whatever the test starts is stopped afterwards."""
    local = LocalStack(_settings(tmp_path / "state"))
    try:
        yield local
    finally:
        local.down()


def _clickhouse(stack: LocalStack, user: str = "default") -> Client:
    return Client(host="127.0.0.1", port=stack.settings.clickhouse_tcp_port, user=user, connect_timeout=5)


def _pids(stack: LocalStack) -> dict[str, int | None]:
    return {s.name: s.pid for s in stack.status()}


def test_up_serves_both_and_is_idempotent(stack: LocalStack) -> None:
    statuses = stack.up()
    assert [(s.name, s.running, s.detail) for s in statuses] == [("broker", True, "ready"),
                                                                  ("clickhouse", True, "ready")]
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap, request_timeout_ms=5000)
    try:
        assert isinstance(admin.list_topics(), list)
    finally:
        admin.close()
    # jemalloc in the server runs with the settings' MALLOC_CONF (pages kept for reuse, docs/benchmarks.md).
    environ = Path(f"/proc/{stack.pid('clickhouse')}/environ").read_bytes().split(b"\0")
    assert f"MALLOC_CONF={stack.settings.clickhouse_malloc_conf}".encode() in environ
    assert "oversize_threshold:0" in stack.settings.clickhouse_malloc_conf
    client = _clickhouse(stack)
    assert client.execute("SELECT 1") == [(1,)]
    client.execute("CREATE TABLE lc (a LowCardinality(String)) ENGINE = MergeTree() ORDER BY a")
    client.disconnect()
    grafana = _clickhouse(stack, "grafana")
    assert grafana.execute("SELECT count() FROM lc") == [(0,)]
    with pytest.raises(Exception, match="readonly"):
        grafana.execute("CREATE TABLE nope (a UInt8) ENGINE = Memory")
    grafana.disconnect()

    before = _pids(stack)
    assert all(before.values())
    again = stack.up()
    assert {s.name: s.pid for s in again} == before, "up again leaves running services alone"


@pytest.mark.parametrize("setting", ["broker_port", "clickhouse_tcp_port", "clickhouse_http_port"])
def test_port_taken_by_another_program(stack: LocalStack, setting: str) -> None:
    port = getattr(stack.settings, setting)
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        with pytest.raises(StackError) as error:
            stack.up()
    message = str(error.value)
    assert str(port) in message and f"LRS_{setting.upper()}" in message
    assert not any(s.running for s in stack.status()), "nothing is left half-started"
    assert process.tracked_names(stack.run_dir) == []


def test_clickhouse_stop_start_and_crash_keep_data(stack: LocalStack) -> None:
    stack.up()
    client = _clickhouse(stack)
    client.execute("CREATE TABLE kept (id UInt32, name String) ENGINE = MergeTree() ORDER BY id")
    client.execute("INSERT INTO kept (id, name) VALUES", [(i, f"n{i}") for i in range(1000)])
    broker_pid = stack.pid("broker")

    stack.stop_service("clickhouse")  # with the client still connected, as workers are
    assert stack.pid("clickhouse") is None
    with pytest.raises(Exception):  # noqa: B017 - any connection error
        _clickhouse(stack).execute("SELECT 1")
    stack.start_service("clickhouse")
    assert client.execute("SELECT count(), sum(id) FROM kept") == [(1000, 999 * 1000 // 2)]

    stack.kill_service("clickhouse")
    assert stack.pid("clickhouse") is None
    stack.start_service("clickhouse")
    assert _clickhouse(stack).execute("SELECT count() FROM kept") == [(1000,)]
    assert stack.pid("broker") == broker_pid, "the broker was not touched"


def test_services_outlive_the_process_that_started_them(stack: LocalStack) -> None:
    settings = stack.settings
    env = {**os.environ, "LRS_STATE_DIR": str(settings.state_dir), "LRS_BROKER_PORT": str(settings.broker_port),
           "LRS_CLICKHOUSE_TCP_PORT": str(settings.clickhouse_tcp_port),
           "LRS_CLICKHOUSE_HTTP_PORT": str(settings.clickhouse_http_port)}
    code = ("import json; from lrs.core.config import Settings; from lrs.tools.stack.stack import LocalStack; "
            "print(json.dumps({s.name: s.pid for s in LocalStack(Settings()).up()}))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    started = json.loads(done.stdout.strip().splitlines()[-1])
    assert _pids(stack) == started and all(started.values())
    assert _clickhouse(stack).execute("SELECT 1") == [(1,)]


def test_down_stops_everything_and_only_what_it_started(stack: LocalStack) -> None:
    stack.up()
    pids = _pids(stack)
    # A pid file whose pid now belongs to another program: down must not signal it.
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        (stack.run_dir / "lrs.pid").write_text(f"{stranger.pid}\n\n{sys.executable}\n")
        statuses = stack.down()
        assert not any(s.running for s in statuses)
        assert stranger.poll() is None, "a process the stack did not start is left alone"
    finally:
        stranger.kill()
        stranger.wait()
    for pid in pids.values():
        assert pid is not None
        assert not process.pid_exists(pid)
    assert process.tracked_names(stack.run_dir) == []
    assert [s.detail for s in stack.down()] == ["stopped", "stopped"], "down is safe when nothing runs"


def test_missing_clickhouse_binary_says_to_run_setup(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clickhouse.shutil, "which", lambda name: None)
    monkeypatch.setattr(clickhouse, "_CANDIDATES", ())
    with pytest.raises(StackError, match="scripts/setup.sh"):
        stack.up()
    assert not any(s.running for s in stack.status()), "the broker was not started either"


def test_service_dying_at_start_reports_its_log(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = stack.state_dir / "broken.xml"
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text("<yandex><tcp_port>not a port</tcp_port>")
    monkeypatch.setattr(clickhouse, "argv", lambda settings, state_dir: [clickhouse.server_binary(),
                                                                          f"--config-file={broken}"])
    with pytest.raises(StackError, match="clickhouse exited during start-up") as error:
        stack.up(timeout=20)
    assert "last lines of" in str(error.value)
    assert not any(s.running for s in stack.status())


def test_broker_log_is_formatted_once_and_kept(stack: LocalStack) -> None:
    """KRaft storage is formatted on the first start only: a topic survives stop and kill -9 of the broker."""
    from kafka.admin import NewTopic

    stack.up()
    meta = stack.state_dir / "kafka" / "node-1" / "data" / "meta.properties"
    formatted = meta.read_text()
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap, request_timeout_ms=10_000)
    admin.create_topics([NewTopic("kept", 2, 1)])
    admin.close()
    stack.stop_service("broker")
    stack.start_service("broker")
    stack.kill_service("broker")
    stack.start_service("broker")
    admin = KafkaAdminClient(bootstrap_servers=stack.settings.kafka_bootstrap, request_timeout_ms=10_000)
    try:
        assert "kept" in admin.list_topics()
    finally:
        admin.close()
    assert meta.read_text() == formatted, "not formatted again"


def test_cluster_keeps_the_size_it_was_created_with(stack: LocalStack) -> None:
    (stack.state_dir / "kafka").mkdir(parents=True)
    (stack.state_dir / "kafka" / "nodes").write_text("3\n")
    assert LocalStack(stack.settings).broker_names() == [(1, "broker"), (2, "broker-2"), (3, "broker-3")]
    with pytest.raises(StackError, match="--brokers 3"):
        LocalStack(stack.settings, brokers=1).up()
    assert process.tracked_names(stack.run_dir) == [], "nothing started"


def test_brokers_asked_on_the_command_line_form_one_quorum(stack: LocalStack) -> None:
    """`lrs stack up --brokers 3` with the setting at 1: every node is configured for the three-node quorum."""
    assert stack.settings.brokers == 1
    three = LocalStack(stack.settings, brokers=3)
    for node, name in three.broker_names():
        three._service(name).argv()  # writes the configuration (and formats the storage) without starting
        config = (broker.node_dir(three.state_dir, node) / "server.properties").read_text()
        assert config.count("@127.0.0.1:") == 3, config
        assert "min.insync.replicas=2\n" in config and "default.replication.factor=3\n" in config
