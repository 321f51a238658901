"""``lrs stack up|down|status``: the embedded Kafka broker(s) and ClickHouse server, plus LRS/worker processes.

State lives in ``settings.state_dir``: pid files in ``run/``, logs in ``logs/`` (ClickHouse's own under
``clickhouse/logs/``), ClickHouse's data in ``clickhouse/data/`` and each Kafka node's configuration and log in
``kafka/node-N/``. Only processes recorded in pid files by this stack are ever signalled.

A cluster stack (``lrs stack up --cluster``) adds ZooKeeper (``zookeeper/``) and a second ClickHouse replica
(``clickhouse-2/``) of the same shard, next to three Kafka nodes.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lrs.core.config import Settings
from lrs.tools.stack import broker, clickhouse, process, zookeeper
from lrs.tools.stack.process import StackError

if TYPE_CHECKING:
    from lrs.core.store.migrate import MigrationReport

__all__ = ["LocalStack", "ServiceStatus", "StackError"]


@dataclass
class ServiceStatus:
    """What ``status`` reports for one service."""

    name: str
    running: bool
    pid: int | None
    address: str
    detail: str = ""


@dataclass(frozen=True)
class _Service:
    """How to start and probe one infrastructure service."""

    name: str
    argv: Callable[[], list[str]]  # also validates the binary and writes config files
    env: Callable[[], dict[str, str] | None]
    ports: tuple[tuple[int, str], ...]  # (port, setting name)
    address: str
    is_ready: Callable[[float], bool]
    logs: tuple[Path, ...]  # first: stdout/stderr of the process; more: the program's own log files
    stop_signal: int = signal.SIGTERM


class LocalStack:
    """Starts, checks and stops the local services; only ever touches processes it started itself."""

    def __init__(self, settings: Settings, brokers: int | None = None, replicas: int | None = None) -> None:
        """``brokers`` / ``replicas``: Kafka nodes / ClickHouse replicas asked for on the command line (else those
        recorded in the state dir, else the settings)."""
        self.settings = settings
        # Absolute, so pid files and ClickHouse's config do not depend on the caller's working directory.
        self.state_dir = Path(settings.state_dir).expanduser().resolve()
        self.run_dir = self.state_dir / "run"
        self.log_dir = self.state_dir / "logs"
        s = settings
        # A Kafka cluster keeps the size it was formatted with (its quorum is written into every node's log), and
        # ClickHouse the replica count its tables were created with (Replicated* or not).
        self.brokers = brokers or broker.recorded_nodes(self.state_dir) or settings.brokers
        self.replicas = replicas or clickhouse.recorded_replicas(self.state_dir) or settings.clickhouse_replicas
        self._services = {name: self._broker_service(node) for node, name in self.broker_names()}
        if self.replicas > 1:
            self._services[zookeeper.NAME] = _Service(
                name=zookeeper.NAME, argv=lambda: zookeeper.argv(s, self.state_dir), env=lambda: None,
                ports=((s.zookeeper_port, zookeeper.PORT_SETTING),), address=zookeeper.address(s),
                is_ready=lambda t: zookeeper.is_ready(s.zookeeper_port, t),
                logs=(self.log_dir / f"{zookeeper.NAME}.log",))
        for replica in range(1, self.replicas + 1):
            self._services[clickhouse.service_name(replica)] = self._clickhouse_service(replica)
        self.services = tuple(self._services)

    def clickhouse_names(self) -> list[str]:
        """Service names of the ClickHouse replicas of this stack (one without a cluster)."""
        return [clickhouse.service_name(r) for r in range(1, self.replicas + 1)]

    def _clickhouse_service(self, replica: int) -> _Service:
        s = self.settings
        ports = (clickhouse.tcp_port(s, replica), clickhouse.http_port(s, replica))
        if self.replicas > 1:
            ports += (clickhouse.interserver_port(s, replica),)
        return _Service(
            name=clickhouse.service_name(replica), env=lambda: clickhouse.environment(s),
            argv=lambda: (clickhouse.argv(s, self.state_dir, replica, self.replicas) if self.replicas > 1
                          else clickhouse.argv(s, self.state_dir)),
            ports=tuple(zip(ports, (*clickhouse.PORT_SETTINGS, "clickhouse_tcp_port"), strict=False)),
            address=clickhouse.address(s, replica),
            is_ready=lambda t: clickhouse.is_ready(clickhouse.http_port(s, replica), t),
            logs=clickhouse.log_paths(self.state_dir, replica))

    def broker_names(self) -> list[tuple[int, str]]:
        """(node id, service name) of each Kafka node of this stack."""
        return [(node, broker.service_name(node)) for node in range(1, self.brokers + 1)]

    def _broker_service(self, node: int) -> _Service:
        s = self.settings
        port = broker.client_port(s, node)
        return _Service(
            name=broker.service_name(node), env=lambda: None,
            argv=lambda: broker.prepare(s, self.state_dir, self.brokers, node),
            ports=((port, broker.PORT_SETTING), (broker.controller_port(s, node), broker.PORT_SETTING)),
            address=broker.address(s, node), is_ready=lambda t: broker.is_ready(port, t),
            logs=(self.log_dir / f"{broker.service_name(node)}.log",))

    # --- whole stack ------------------------------------------------------------------------------
    def up(self, timeout: float = 30.0) -> list[ServiceStatus]:
        """Start whatever is not running and wait until both services answer; idempotent.

        Services already running (per their pid files) are left alone. Raises StackError if a port is taken
        by another program, a binary is missing, or a service is not ready within ``timeout`` seconds.
        """
        recorded = broker.recorded_nodes(self.state_dir)
        if recorded and recorded != self.brokers:
            raise StackError(f"the Kafka cluster in {self.state_dir / 'kafka'} has {recorded} node(s), not "
                             f"{self.brokers}: run `lrs stack up --brokers {recorded}`, or `lrs stack down` "
                             f"and remove that directory (its log is lost) to start a new one")
        replicas = clickhouse.recorded_replicas(self.state_dir)
        if replicas and replicas != self.replicas:
            raise StackError(f"the ClickHouse in {self.state_dir} has {replicas} replica(s), not {self.replicas}: "
                             f"its tables are {'replicated' if replicas > 1 else 'single-node'}; `lrs stack down` "
                             f"and remove the clickhouse* (and zookeeper) directories there (their data is lost) "
                             f"to start anew")
        broker.record_nodes(self.state_dir, self.brokers)
        clickhouse.record_replicas(self.state_dir, self.replicas)
        deadline = time.monotonic() + timeout
        if zookeeper.NAME in self._services:  # before the replicas: they load their replicated tables from it
            self._start([zookeeper.NAME], timeout)
        self._start([n for n in self.services if n != zookeeper.NAME], max(1.0, deadline - time.monotonic()))
        return self.status()

    def migrate(self) -> tuple[MigrationReport, list[str]]:
        """Apply ClickHouse's migrations, let the new tables spread their parts (:meth:`spread_parts`) and create
        the Kafka topics; idempotent. Returns the migration report and the topics created."""
        from lrs.core.kafka.topics import ensure_topics
        from lrs.core.store.migrate import migrate_clickhouse

        report = migrate_clickhouse(self.settings)
        self.spread_parts()
        return report, ensure_topics(self.settings)

    def spread_parts(self) -> int:
        """After migrations: let each replica's tables spread their parts over the disk
        (:func:`clickhouse.spread_parts`), unless ``clickhouse_spread_parts`` is off; returns the tables marked."""
        if not self.settings.clickhouse_spread_parts:
            return 0
        return sum(clickhouse.spread_parts(self.state_dir, replica) for replica in range(1, self.replicas + 1))

    def down(self) -> list[ServiceStatus]:
        """Stop every process this stack started (apps first, then ClickHouse, ZooKeeper, the brokers); safe if none
        run."""
        tracked = process.tracked_names(self.run_dir)
        for name in tracked:
            if not _is_service(name):
                process.stop(self.run_dir, name)
        process.stop_all(self.run_dir, sorted({n for n in tracked if _is_clickhouse(n)} | set(self.clickhouse_names())))
        process.stop(self.run_dir, zookeeper.NAME)
        # All Kafka nodes at once: a node stopping alone waits for the quorum to move its leaderships away.
        nodes = sorted({n for n in tracked if _is_broker(n)} | {name for _, name in self.broker_names()})
        process.stop_all(self.run_dir, nodes)
        return self.status()

    def status(self) -> list[ServiceStatus]:
        """State of both services, plus any app process with a pid file."""
        result = []
        for name, service in self._services.items():
            tracked = process.running(self.run_dir, name)
            if tracked is None:
                taken = [str(p) for p, _ in service.ports if process.port_in_use(p)]
                detail = f"port {', '.join(taken)} in use by another program" if taken else "stopped"
            else:
                detail = "ready" if service.is_ready(1.0) else "running, not answering"
            result.append(ServiceStatus(name, tracked is not None, tracked.pid if tracked else None,
                                        service.address, detail))
        for name in process.tracked_names(self.run_dir):
            if not _is_service(name):
                tracked = process.running(self.run_dir, name)
                address = f"http://127.0.0.1:{self.settings.http_port}/xapi" if name == "lrs" else ""
                result.append(ServiceStatus(name, tracked is not None, tracked.pid if tracked else None, address,
                                            str(self.log_dir / f"{name}.log")))
        return result

    # --- one service (fault-injection tests) ------------------------------------------------------
    def start_service(self, name: str, timeout: float = 30.0) -> None:
        """Start ``broker`` (``broker-N``), ``clickhouse`` (``clickhouse-N``) or ``zookeeper`` unless it runs, and
        wait until it answers."""
        self._start([self._service(name).name], timeout)

    def stop_service(self, name: str) -> None:
        """Stop one service gracefully (SIGKILL after 15 s); ClickHouse's data directory stays."""
        service = self._service(name)
        process.stop(self.run_dir, service.name, sig=service.stop_signal)

    def kill_service(self, name: str) -> None:
        """SIGKILL one service, as a crash would."""
        process.kill(self.run_dir, self._service(name).name)

    def pid(self, name: str) -> int | None:
        """Pid of a running process this stack started, or None."""
        tracked = process.running(self.run_dir, name)
        return tracked.pid if tracked else None

    # --- LRS / worker processes of the demo -------------------------------------------------------
    def start_app_process(self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
        """Start e.g. ``lrs serve`` in the background with a pid file, so ``down`` stops it; return its pid.

        Idempotent: if a process of that name runs already, its pid is returned. Output goes to
        ``<state_dir>/logs/NAME.log``.
        """
        if _is_service(name):
            raise ValueError(f"{name!r} is a stack service; use start_service")
        tracked = process.running(self.run_dir, name)
        if tracked is None:
            tracked = process.start_detached(name, argv, run_dir=self.run_dir, log_path=self.log_dir / f"{name}.log",
                                             env=env)
        return tracked.pid

    # --- internals --------------------------------------------------------------------------------
    def _service(self, name: str) -> _Service:
        try:
            return self._services[name]
        except KeyError:
            raise ValueError(f"unknown service {name!r}; expected one of {', '.join(self.services)}") from None

    def _start(self, names: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        to_start = []
        for name in names:
            if process.running(self.run_dir, name) is None:
                process.pid_path(self.run_dir, name).unlink(missing_ok=True)  # stale: dead or pid reused
                to_start.append(self._services[name])
        # Check every precondition before starting anything, so a failing `up` leaves nothing half-started.
        commands = {}
        for service in to_start:
            for port, setting in service.ports:
                process.ensure_port_free(port, setting)
            commands[service.name] = service.argv()
        started = []
        try:
            for service in to_start:
                process.start_detached(service.name, commands[service.name], run_dir=self.run_dir,
                                       log_path=service.logs[0], env=service.env(), cwd=self.state_dir)
                started.append(service.name)
            # All boot in parallel; then wait for each (also for ones that ran already).
            for name in names:
                self._wait_ready(self._services[name], deadline, timeout)
        except BaseException:
            for name in started:  # do not leave a broken half-started service behind
                process.stop(self.run_dir, name, timeout=5, sig=self._services[name].stop_signal)
            raise

    def _wait_ready(self, service: _Service, deadline: float, timeout: float) -> None:
        while True:
            tracked = process.running(self.run_dir, service.name)
            if tracked is None:
                recorded = process.read_tracked(self.run_dir, service.name)
                if recorded and process.child_running(recorded.pid) and time.monotonic() < deadline:
                    # Forked but not yet exec'd (still shows our own command line): not an exit.
                    time.sleep(0.05)
                    continue
                code = process.exit_code(recorded.pid) if recorded else None
                how = f" with exit code {code}" if code is not None else ""
                raise StackError(f"the {service.name} exited during start-up{how}{self._log_report(service)}")
            if service.is_ready(1.0):
                return
            if time.monotonic() >= deadline:
                raise StackError(f"the {service.name} (pid {tracked.pid}) did not answer on {service.address} "
                                 f"within {timeout:g}s{self._log_report(service)}")
            time.sleep(0.05)

    def leader_of(self, topic: str, partition: int = 0) -> str:
        """Service name of the Kafka node that leads ``topic``'s ``partition`` now (failover tests)."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap, client_id="lrs-stack-probe")
        try:
            described = admin.describe_topics([topic])
        finally:
            admin.close()
        for part in described[0]["partitions"]:
            if part["partition_index"] == partition:
                return broker.service_name(int(part["leader_id"]))
        raise StackError(f"topic {topic} has no partition {partition}")

    @staticmethod
    def _log_report(service: _Service) -> str:
        parts = []
        for path in service.logs:
            tail = process.log_tail(path, 20)
            if tail:
                parts.append(f"\n--- last lines of {path}:\n{tail}")
        return "".join(parts) or f" (no output in {service.logs[0]})"


def _is_broker(name: str) -> bool:
    return name == "broker" or name.startswith("broker-")


def _is_clickhouse(name: str) -> bool:
    return name == clickhouse.NAME or name.startswith(f"{clickhouse.NAME}-")


def _is_service(name: str) -> bool:
    """Whether a pid-file name is an infrastructure service of the stack (not an LRS or worker process)."""
    return _is_clickhouse(name) or _is_broker(name) or name == zookeeper.NAME
