"""The isolated stack a benchmark run measures: broker + ClickHouse + ``lrs serve`` + ``lrs worker`` processes.

Own state directory and free loopback ports, so it never touches ``.lrs/`` of a developer's stack or the
integration tests. Every process is started through :class:`lrs.tools.stack.stack.LocalStack` (pid files), so
:meth:`BenchEnv.close` stops all of them, even after a failed measurement.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from lrs.core.config import Settings, settings_env
from lrs.tools.stack.process import free_port_run, free_ports


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; RuntimeError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as exc:  # the service may still be starting
            last_error = exc
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error})")


class BenchEnv:
    """A running (or stopped) benchmark stack."""

    def __init__(self, state_dir: Path, *, lrs_workers: int = 2, partitions: int = 6, **overrides: Any) -> None:
        from lrs.tools.stack.stack import LocalStack

        ch_tcp, ch_http, http = free_ports(3)
        broker = free_port_run(2 * int(overrides.get("brokers", 1)), exclude=(ch_tcp, ch_http, http))
        values: dict[str, Any] = dict(state_dir=state_dir.resolve(), broker_port=broker, clickhouse_tcp_port=ch_tcp,
                                      clickhouse_http_port=ch_http, http_port=http, topic_partitions=partitions,
                                      consistency_wait_s=10.0, clickhouse_log_queries=True)
        values.update(overrides)
        self.settings = Settings(**values)
        self.state_dir = Path(self.settings.state_dir)
        self.lrs_workers = lrs_workers
        self.stack = LocalStack(self.settings)
        self.env = settings_env(self.settings)
        self.base_url = f"http://127.0.0.1:{self.settings.http_port}"
        self.worker_names: list[str] = []
        # Each worker's Prometheus endpoint, by name: the soak samples its sink intake and analytics rounds.
        self.worker_metrics: dict[str, str] = {}
        self._clickhouse = None

    # --- lifecycle ---------------------------------------------------------------------------------
    def start(self, workers: int = 1) -> None:
        """Stack up, migrations, topics, LRS and ``workers`` stream workers; return once a probe is stored (with no
        workers: once the LRS answers)."""
        self.stack.up(timeout=120.0)  # a loaded machine starts the JVM slowly
        self.stack.migrate()
        self.start_lrs()
        self.start_workers(workers)
        self.wait_lrs()
        if workers:
            self.wait_flowing()

    def start_lrs(self) -> None:
        """``lrs serve --workers N`` in the background."""
        self.stack.start_app_process("lrs", self._lrs_argv("serve", "--workers", str(self.lrs_workers)), env=self.env)

    def start_workers(self, count: int, extra_env: dict[str, str] | None = None) -> None:
        """Start ``count`` more stream workers (``worker0``, ``worker1``, ...), with ``extra_env`` (``LRS_*``
        settings of theirs) over the stack's environment; each serves its metrics on a port of its own."""
        for port in free_ports(count):
            name = f"worker{len(self.worker_names)}"
            env = {**self.env, "LRS_WORKER_METRICS_PORT": str(port), **(extra_env or {})}
            self.stack.start_app_process(name, self._lrs_argv("worker"), env=env)
            self.worker_names.append(name)
            self.worker_metrics[name] = f"http://{self.settings.metrics_host}:{port}/metrics"

    def stop_workers(self) -> None:
        """Stop every stream worker (gracefully: they commit what they wrote)."""
        from lrs.tools.stack import process

        for name in self.worker_names:
            process.stop(self.stack.run_dir, name, timeout=20)
        self.worker_names = []
        self.worker_metrics = {}

    def close(self, keep_data: bool = False) -> None:
        """Stop every process this run started; drop ClickHouse's data directory unless ``keep_data``."""
        if self._clickhouse is not None:
            with contextlib.suppress(Exception):
                self._clickhouse.disconnect()
        self.stack.down()
        if not keep_data:
            shutil.rmtree(self.state_dir / "clickhouse" / "data", ignore_errors=True)

    def _lrs_argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "lrs", *args]

    # --- readiness -----------------------------------------------------------------------------------
    def wait_lrs(self, timeout: float = 60) -> None:
        """Wait until the LRS serves /xapi/about."""
        wait_until(lambda: httpx.get(f"{self.base_url}/xapi/about", timeout=1).status_code == 200, timeout,
                   what=f"the LRS to answer (log: {self.log_path('lrs')})")

    def wait_flowing(self, timeout: float = 180) -> None:
        """Wait until a probe statement went all the way into ClickHouse (workers joined their group)."""
        tenant, key, secret = self.new_tenant("probe")
        statement = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:probe@example.com"},
                     "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                     "object": {"id": "https://example.com/probe"}}
        response = httpx.post(f"{self.base_url}/xapi/statements", json=statement, auth=(key, secret), timeout=30,
                              headers={"X-Experience-API-Version": "1.0.3"})
        response.raise_for_status()
        wait_until(lambda: self.stored(tenant) >= 1, timeout, interval=0.3,
                   what=f"the probe statement to reach ClickHouse (logs: {self.state_dir / 'logs'})")

    def log_path(self, name: str) -> Path:
        """The log file of a process started by this stack."""
        return self.stack.log_dir / f"{name}.log"

    # --- data ------------------------------------------------------------------------------------------
    def clickhouse(self):
        """This thread's shared clickhouse-driver client (not thread-safe: make your own for threads)."""
        if self._clickhouse is None:
            self._clickhouse = self.new_clickhouse()
        return self._clickhouse

    def new_clickhouse(self):
        """A fresh clickhouse-driver client for this stack."""
        from lrs.core.store.clickhouse import make_client

        client = make_client(self.settings)
        client.connection.send_receive_timeout = 600
        return client

    def new_tenant(self, prefix: str = "bench") -> tuple[str, str, str]:
        """A fresh tenant with an ``all``-scoped key: ``(tenant, key, secret)``."""
        from lrs.core.store.clickhouse import ClickHouse
        from lrs.service.auth.credentials import CredentialStore

        tenant = f"{prefix}{uuid.uuid4().hex[:8]}"
        pool = ClickHouse(self.settings, size=1)
        try:
            key, secret = CredentialStore(self.settings, pool).create(tenant, name=f"{prefix} client")
        finally:
            pool.close()
        return tenant, key, secret

    def stored(self, tenant: str) -> int:
        """Distinct statements of ``tenant`` in the raw table (a redelivered duplicate counts once)."""
        rows = self.clickhouse().execute("SELECT uniqExact(statement_id) FROM statements WHERE tenant = %(t)s",
                                         {"t": tenant})
        return int(rows[0][0])

    def rows_of(self, tenant: str) -> int:
        """Rows of ``tenant`` in the raw table, a redelivered duplicate not yet merged away counted twice: a
        tenth of :meth:`stored`'s cost (it reads the sorting key's first column only)."""
        rows = self.clickhouse().execute("SELECT count() FROM statements WHERE tenant = %(t)s", {"t": tenant})
        return int(rows[0][0])

    def wait_stored(self, tenant: str, expected: int, timeout: float = 600, interval: float = 0.05) -> float:
        """Wait until ``expected`` statements of ``tenant`` are stored; return the seconds it took.

        The moment is when the first poll that saw them all was *sent*: its answer reflects the parts committed
        before it, so the figure is late by at most ``interval`` plus one query, never early. Polls count rows
        (cheap: about 1.7 ms of ClickHouse at 100,000 rows, against 10 ms for the distinct count); the distinct
        count confirms once the rows are there (a duplicate row would otherwise count as a statement).
        """
        start = time.perf_counter()
        deadline = time.monotonic() + timeout
        while True:
            sent = time.perf_counter()
            if self.rows_of(tenant) >= expected and self.stored(tenant) >= expected:
                return sent - start
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f}s waiting for {expected} statements of {tenant} "
                                   f"in ClickHouse ({self.stored(tenant)} stored)")
            time.sleep(interval)

    # --- processes (for RSS sampling and profiling) --------------------------------------------------------
    def process_pids(self) -> dict[str, int]:
        """Leader pid of every running process of this stack, by name (broker, clickhouse, lrs, workerN, ...)."""
        from lrs.tools.stack import process

        result = {}
        for name in process.tracked_names(self.stack.run_dir):
            tracked = process.running(self.stack.run_dir, name)
            if tracked is not None:
                result[name] = tracked.pid
        return result
