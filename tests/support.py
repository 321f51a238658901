"""Helpers for integration tests: a real pipeline (broker, ClickHouse, LRS, workers) on loopback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from lrs.core.config import Settings, settings_env
from lrs.tools.stack.process import free_port_run, free_ports

ROOT = Path(__file__).resolve().parents[1]


def make_settings(state_dir: Path, **overrides: Any) -> Settings:
    """Settings for an isolated stack on free ports (``brokers=3`` for a three-node Kafka cluster)."""
    ch_tcp, ch_http, http = free_ports(3)
    broker = free_port_run(2 * int(overrides.get("brokers", 1)), exclude=(ch_tcp, ch_http, http))
    values: dict[str, Any] = dict(
        state_dir=state_dir, broker_port=broker, clickhouse_tcp_port=ch_tcp, clickhouse_http_port=ch_http,
        http_port=http, topic_partitions=4, consistency_wait_s=10.0, sink_batch_within_s=0.1,
        sink_retry_max_s=1.0, erasure_timeout_s=3.0, erasure_retry_initial_s=0.5, erasure_retry_max_s=2.0,
    )
    values.update(overrides)
    return Settings(**values)


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
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
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


@dataclass
class ManagedProcess:
    """An ``lrs`` sub-command run as a child process, with its log kept for failures."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    def start(self) -> ManagedProcess:
        """Start (or restart) the process."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen([sys.executable, "-m", "lrs", *self.args], env={**self.env, **self.extra_env},
                                     stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
        log.close()
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` and wait for the process to end."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        """Terminate gracefully, then kill."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        """The end of the process's log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Pipeline:
    """A running pipeline: stack + migrations + LRS + N workers."""

    def __init__(self, settings: Settings, workers: int = 1) -> None:
        from lrs.tools.stack.stack import LocalStack

        self.settings = settings
        self.stack = LocalStack(settings)
        self.env = settings_env(settings)
        logs = Path(settings.state_dir) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.lrs = ManagedProcess("lrs", ["serve"], self.env, logs / "lrs.log")
        self.workers = [ManagedProcess(f"worker{i}", ["worker"], self.env, logs / f"worker{i}.log")
                        for i in range(workers)]
        self.base_url = f"http://127.0.0.1:{settings.http_port}"

    def start(self) -> Pipeline:
        """Bring everything up and wait until the LRS answers."""
        self.stack.up()
        self.stack.migrate()
        self.lrs.start()
        for w in self.workers:
            w.start()
        self.wait_lrs()
        self.wait_flowing()
        return self

    def wait_lrs(self) -> None:
        """Wait until the LRS serves /xapi/about."""
        wait_until(lambda: httpx.get(f"{self.base_url}/xapi/about", timeout=1).status_code == 200, 30,
                   what=f"LRS to answer\n{self.lrs.log_tail()}")

    def wait_flowing(self, timeout: float = 120) -> None:
        """Wait until a probe statement has gone all the way to ClickHouse.

        Worker start-up (Faust boot plus the first group join) takes seconds to tens of seconds on a
        busy 2-core machine, longer than the LRS's bounded read-your-writes wait: tests start after it.
        """
        tenant, http = self.new_tenant()
        with http:
            sent = statement(actor="probe@example.com")
            assert http.post("/xapi/statements", json=sent).status_code == 200
        logs = "\n".join(w.log_tail(20) for w in self.workers)
        wait_until(lambda: self.stored_count(tenant) >= 1, timeout, interval=0.3,
                   what=f"the probe statement to reach ClickHouse\n{logs}")

    def stop(self) -> None:
        """Stop workers, LRS and the stack."""
        for w in self.workers:
            w.stop()
        self.lrs.stop()
        self.stack.down()

    def clickhouse(self):
        """A fresh clickhouse-driver client."""
        from lrs.core.store.clickhouse import make_client

        return make_client(self.settings)

    def new_tenant(self, scopes: tuple[str, ...] = ("all",)) -> tuple[str, httpx.Client]:
        """A fresh tenant and an HTTP client authenticated for it (xAPI 1.0.3 header set)."""
        from lrs.core.store.clickhouse import ClickHouse
        from lrs.service.auth.credentials import CredentialStore

        tenant = f"t{uuid.uuid4().hex[:10]}"
        key, secret = CredentialStore(self.settings, ClickHouse(self.settings, size=1)).create(tenant, scopes=scopes)
        client = httpx.Client(base_url=self.base_url, auth=(key, secret), timeout=30,
                              headers={"X-Experience-API-Version": "1.0.3"})
        return tenant, client

    def synthetic_sink(self):
        """A sink for made-up messages: it records its progress under another topic in ``sink_offsets``, where
        their made-up offsets cannot pass for the real sink's (later GETs would wait too long, or not at all)."""
        from streams.sink import StatementSink

        return StatementSink(self.settings.model_copy(update={"statements_topic": "synthetic.statements"}))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple]:
        """The rows of one query on a fresh client, disconnected afterwards."""
        client = self.clickhouse()
        try:
            return client.execute(sql, params or {})
        finally:
            client.disconnect()

    def stored_count(self, tenant: str) -> int:
        """Statements of a tenant in ClickHouse (each id once)."""
        from lrs.core.store.queries import query

        return int(self.query(query("tenant_totals").sql, {"tenant": tenant})[0][0])


def analytics_differences(pipeline: Pipeline, tenant: str) -> list[str]:
    """Each public table against the batch queries run now over the raw table; [] when equal row for row."""
    from lrs.core.store.clickhouse import ClickHouse, bind
    from lrs.core.store.queries import query
    from streams.analytics import clock_us, query_params
    from streams.refresh import ALL_TABLES

    client = pipeline.clickhouse()
    try:
        clock = clock_us(pipeline.settings, ClickHouse(pipeline.settings, size=1), tenant)
        courses = [r[0] for r in client.execute(
            "SELECT DISTINCT course_id FROM statements WHERE tenant = %(t)s AND course_id != ''", {"t": tenant})]
        params = bind(query_params(pipeline.settings, tenant, courses, clock))
        problems = []
        slices = client.execute("SELECT course_id, argMax(watermark_us, version) FROM analytics_slices "
                                "WHERE tenant = %(t)s GROUP BY course_id", {"t": tenant})
        if {c for c, _ in slices} != set(courses) or any(w != clock for _, w in slices):
            problems.append(f"slices {slices} not all at clock {clock} for courses {courses}")
        for table in ALL_TABLES:
            live = sorted(client.execute(table.select_view_sql(), {"tenant": tenant}))
            batch = sorted(client.execute(query(table.query).sql, params))
            if live != batch:
                problems.append(f"{table.view}: {len(live)} live rows vs {len(batch)} batch rows; first differences "
                                f"{sorted(set(live) ^ set(batch))[:3]}")
        return problems
    finally:
        client.disconnect()


def statement(actor: str = "learner@example.com", verb: str = "http://adlnet.gov/expapi/verbs/experienced",
              activity: str = "https://example.com/activities/a1", **extra: Any) -> dict[str, Any]:
    """A small valid statement with a fresh id."""
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "mbox": f"mailto:{actor}"},
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
        **extra,
    }
