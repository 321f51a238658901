"""``lrs stack up|down|status``: the embedded broker and ClickHouse, plus LRS/worker processes of the demo."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lrs.config import Settings
from lrs.stack.broker import broker_argv, broker_ready
from lrs.stack.clickhouse import clickhouse_ready, server_argv, write_config
from lrs.stack.process import ManagedProcess, StackError, port_in_use, wait_for

__all__ = ["LocalStack", "ServiceStatus", "StackError"]


@dataclass
class ServiceStatus:
    """What ``status`` reports for one service."""

    name: str
    running: bool
    pid: int | None
    address: str
    detail: str = ""


class LocalStack:
    """Starts, checks and stops the local services; only ever touches processes it started itself."""

    APP_PROCESSES = ("lrs", "worker")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state = Path(settings.state_dir)
        self.broker = ManagedProcess(self.state, "broker", "tansu")
        self.clickhouse = ManagedProcess(self.state, "clickhouse", "clickhouse")
        self.apps = {name: ManagedProcess(self.state, name, "lrs.cli") for name in self.APP_PROCESSES}

    # --- the two infrastructure services ---------------------------------------------------------
    def _services(self) -> dict[str, tuple[ManagedProcess, list[int], str, str]]:
        s = self.settings
        return {
            "broker": (self.broker, [s.broker_port], "LRS_BROKER_PORT", f"127.0.0.1:{s.broker_port}"),
            "clickhouse": (self.clickhouse, [s.clickhouse_tcp_port, s.clickhouse_http_port],
                           "LRS_CLICKHOUSE_TCP_PORT / LRS_CLICKHOUSE_HTTP_PORT",
                           f"127.0.0.1:{s.clickhouse_tcp_port} (http {s.clickhouse_http_port})"),
        }

    def start_service(self, name: str, timeout: float = 30.0) -> None:
        """Start one service if not running, and wait until it answers."""
        process, ports, setting, _ = self._services()[name]
        if process.pid() is not None:
            return
        for port in ports:
            if port_in_use(port):
                raise StackError(f"port {port} needed by the {name} is already in use by another program; "
                                 f"stop it or choose other ports with {setting}")
        if name == "broker":
            process.start(broker_argv(self.settings.broker_port))
            ready = lambda: broker_ready(self.settings.broker_port)  # noqa: E731
        else:
            config = write_config(self.state / "clickhouse", self.settings.clickhouse_tcp_port,
                                  self.settings.clickhouse_http_port)
            process.start(server_argv(config))
            ready = lambda: clickhouse_ready(self.settings.clickhouse_http_port)  # noqa: E731
        if not wait_for(lambda: process.pid() is not None and ready(), timeout):
            tail = process.log_tail()
            process.stop(timeout=5)
            raise StackError(f"the {name} did not become ready within {timeout:.0f}s; log {process.log_file}:\n{tail}")

    def stop_service(self, name: str) -> None:
        """Stop one service gracefully (its data directory stays)."""
        self._services()[name][0].stop()

    def kill_service(self, name: str) -> None:
        """SIGKILL one service, as a crash would."""
        import signal

        self._services()[name][0].stop(timeout=0, sig=signal.SIGKILL)

    # --- LRS / worker processes started by the demo -----------------------------------------------
    def start_app_process(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        """Start ``lrs serve`` or ``lrs worker`` in the background (pid file, so ``down`` stops it)."""
        process = self.apps[name]
        if process.pid() is None:
            process.start(argv, env=env)

    # --- whole stack ------------------------------------------------------------------------------
    def up(self, timeout: float = 30.0) -> list[ServiceStatus]:
        """Start whatever is not running (idempotent) and wait for readiness."""
        for name in ("broker", "clickhouse"):
            self.start_service(name, timeout)
        return self.status()

    def down(self) -> list[ServiceStatus]:
        """Stop the processes this stack started (apps first, then ClickHouse, then the broker)."""
        for process in [*self.apps.values(), self.clickhouse, self.broker]:
            process.stop()
        return self.status()

    def status(self) -> list[ServiceStatus]:
        """Running state of every service."""
        result = []
        for name, (process, _, _, address) in self._services().items():
            pid = process.pid()
            result.append(ServiceStatus(name, pid is not None, pid, address, str(process.log_file)))
        for name, process in self.apps.items():
            pid = process.pid()
            if pid is not None:
                address = f"http://127.0.0.1:{self.settings.http_port}/xapi" if name == "lrs" else "-"
                result.append(ServiceStatus(name, True, pid, address, str(process.log_file)))
        return result
