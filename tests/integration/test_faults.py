"""Failures on real services: broker down or killed, ClickHouse down or killed, worker and LRS killed.

Nothing acknowledged is lost, nothing is stored twice, and the analytics tables end equal to the batch
recomputation over the raw table.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support import Pipeline, analytics_differences, free_ports, make_settings, statement, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def own_pipeline(tmp_path) -> Iterator[Pipeline]:
    """A pipeline of its own, since these tests break services."""
    (metrics_port,) = free_ports(1)
    running = Pipeline(make_settings(tmp_path, produce_timeout_s=2.0, analytics_refresh_s=0.5,
                                     worker_metrics_port=metrics_port)).start()
    try:
        yield running
    finally:
        running.stop()


COURSE_TYPE = "http://adlnet.gov/expapi/activities/course"
MODULE_TYPE = "http://adlnet.gov/expapi/activities/module"


def _in_course(i: int) -> dict:
    """A statement of one of 17 learners in one of 3 courses (so the analytics have work to do)."""
    course = f"https://faults.example.com/courses/c{i % 3}"
    body = statement(actor=f"l{i % 17}@example.com", activity=f"{course}/m{i % 4}")
    body["object"]["definition"] = {"type": MODULE_TYPE}
    body["context"] = {"contextActivities": {"grouping": [{"id": course, "definition": {"type": COURSE_TYPE}}]}}
    return body


class Sender:
    """Posts batches in a background thread and records every acknowledged statement id."""

    def __init__(self, pipeline: Pipeline, batches: int, size: int = 50, pause: float = 0.02) -> None:
        self.tenant, self.http = pipeline.new_tenant()
        self.batches, self.size, self.pause = batches, size, pause
        self.acked: list[str] = []
        self.refused = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for _ in range(self.batches):
            batch = [_in_course(i) for i in range(self.size)]
            try:
                response = self.http.post("/xapi/statements", json=batch)
            except Exception:  # the LRS itself may be restarting
                self.refused += 1
                continue
            if response.status_code == 200:
                self.acked.extend(response.json())
            else:
                assert response.status_code == 503, response.text
                self.refused += 1
            time.sleep(self.pause)

    def __enter__(self) -> Sender:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread.join(timeout=300)


def _stored_ids(pipeline: Pipeline, tenant: str) -> tuple[int, int]:
    client = pipeline.clickhouse()
    try:
        distinct = client.execute("SELECT uniqExact(statement_id) FROM statements WHERE tenant = %(t)s", {"t": tenant})
        return int(distinct[0][0]), pipeline.raw_rows(tenant)
    finally:
        client.disconnect()


def _assert_exactly_once(pipeline: Pipeline, sender: Sender) -> None:
    expected = len(set(sender.acked))
    assert expected > 0
    wait_until(lambda: pipeline.stored_count(sender.tenant) >= expected, 120,
               what=f"{expected} acknowledged statements in ClickHouse")
    distinct, rows = _stored_ids(pipeline, sender.tenant)
    # A request whose response was lost (LRS killed after the broker acknowledged) may be stored without
    # having been acknowledged: more may be stored than acknowledged, never less, and nothing twice.
    assert distinct >= expected, "every acknowledged statement is stored"
    assert distinct <= expected + sender.size * (sender.refused + 1)
    assert rows == distinct, "each exactly once after merges"
    client = pipeline.clickhouse()
    stored = {r[0] for r in client.execute("SELECT statement_id FROM statements WHERE tenant = %(t)s",
                                           {"t": sender.tenant})}
    client.disconnect()
    assert set(sender.acked) <= stored
    wait_until(lambda: analytics_differences(pipeline, sender.tenant) == [], 120, interval=1,
               what="analytics tables equal to the batch recomputation")


def test_broker_down_answers_503_and_stores_nothing(own_pipeline: Pipeline) -> None:
    tenant, http = own_pipeline.new_tenant()
    warm = statement()
    assert http.post("/xapi/statements", json=warm).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": warm["id"]}).status_code == 200
    own_pipeline.stack.stop_service("broker")
    refused = http.post("/xapi/statements", json=[statement() for _ in range(5)])
    assert refused.status_code == 503, refused.text
    assert "error" in refused.json()
    time.sleep(2)
    assert own_pipeline.stored_count(tenant) == 1, "nothing of the refused request is stored"


def _worker_metric(pipeline: Pipeline, name: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{pipeline.settings.worker_metrics_port}/metrics", timeout=5).text
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def test_clickhouse_down_while_statements_arrive(own_pipeline: Pipeline) -> None:
    with Sender(own_pipeline, batches=60) as sender:
        time.sleep(0.5)
        own_pipeline.stack.stop_service("clickhouse")
        # The lag is visible while ClickHouse is down: the batch being retried shows as stalled.
        wait_until(lambda: _worker_metric(own_pipeline, "lrs_worker_sink_stalled_seconds") > 1, 30,
                   what="the worker to report a stalled sink")
        own_pipeline.stack.start_service("clickhouse")
    assert sender.acked and sender.refused == 0, "ingest only needs Kafka: no request refused"
    _assert_exactly_once(own_pipeline, sender)
    assert _worker_metric(own_pipeline, "lrs_worker_sink_stalled_seconds") == 0
    assert _worker_metric(own_pipeline, "lrs_worker_last_written_stored_seconds") > time.time() - 600


def test_worker_killed_mid_stream_loses_and_duplicates_nothing(own_pipeline: Pipeline) -> None:
    worker = own_pipeline.workers[0]
    with Sender(own_pipeline, batches=80) as sender:
        time.sleep(1.5)
        worker.kill(signal.SIGKILL)
        time.sleep(1)
        worker.start()
    _assert_exactly_once(own_pipeline, sender)


def test_lrs_killed_mid_stream_keeps_everything_acknowledged(own_pipeline: Pipeline) -> None:
    with Sender(own_pipeline, batches=80) as sender:
        time.sleep(1)
        own_pipeline.lrs.kill(signal.SIGKILL)
        own_pipeline.lrs.start()
        own_pipeline.wait_lrs()
    _assert_exactly_once(own_pipeline, sender)


def test_clickhouse_killed_mid_stream(own_pipeline: Pipeline) -> None:
    with Sender(own_pipeline, batches=60) as sender:
        time.sleep(0.5)
        own_pipeline.stack.kill_service("clickhouse")
        time.sleep(3)
        own_pipeline.stack.start_service("clickhouse")
    assert sender.acked and sender.refused == 0, "ingest only needs Kafka: no request refused"
    _assert_exactly_once(own_pipeline, sender)


def test_broker_killed_the_lrs_refuses_instead_of_accepting(own_pipeline: Pipeline) -> None:
    """kill -9 of the broker: from then on every write is a 503, never a 200 (nothing can be durable).

    With the embedded memory broker the log itself dies with the process (see docs/operations.md);
    in production, Apache Kafka with replication keeps what it acknowledged.
    """
    tenant, http = own_pipeline.new_tenant()
    assert http.post("/xapi/statements", json=statement()).status_code == 200
    own_pipeline.stack.kill_service("broker")
    for _ in range(3):
        refused = http.post("/xapi/statements", json=[statement() for _ in range(3)])
        assert refused.status_code == 503, refused.text
        assert "broker" in refused.json()["error"]["message"]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def test_clickhouse_down_for_minutes_memory_stays_bounded(own_pipeline: Pipeline) -> None:
    """ClickHouse gone for 90 s under steady load: ingest goes on, the worker waits with bounded memory."""
    worker_pid = own_pipeline.workers[0].proc.pid
    with Sender(own_pipeline, batches=400, size=50, pause=0.2) as sender:
        time.sleep(2)
        before = _rss_mb(worker_pid)
        own_pipeline.stack.stop_service("clickhouse")
        samples = []
        for _ in range(18):
            time.sleep(5)
            samples.append(_rss_mb(worker_pid))
        stalled = _worker_metric(own_pipeline, "lrs_worker_sink_stalled_seconds")
        own_pipeline.stack.start_service("clickhouse")
    assert stalled > 60, "the lag was visible in the metrics"
    assert sender.refused == 0 and len(sender.acked) > 10_000, (sender.refused, len(sender.acked))
    # The worker stops taking messages while its batch cannot be written: no growth with the backlog.
    assert max(samples) - before < 150, f"worker RSS {before:.0f} MB -> {samples}"
    assert max(samples[9:]) - max(samples[:9]) < 50, f"RSS still growing in the second half: {samples}"
    _assert_exactly_once(own_pipeline, sender)
