"""Failures on real services: broker down or killed, ClickHouse down or killed, worker and LRS killed.

Nothing acknowledged is lost, nothing is stored twice, and the analytics tables end equal to the batch
recomputation over the raw table.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Pipeline, analytics_differences, free_ports, make_settings, statement, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The one installed with the tests (a dependency), whether or not the virtualenv is on PATH.
PY_SPY = str(Path(sys.executable).with_name("py-spy"))


# Bytes of statements per Kafka message in these pipelines: the requests here (20-50 statements of about 700 bytes)
# travel as several messages in one transaction, the path a failure could leave half-written (a request under the
# default 512 KiB is one message, atomic by itself).
SMALL_MESSAGES = 4096


@pytest.fixture
def own_pipeline(tmp_path) -> Iterator[Pipeline]:
    """A pipeline of its own, since these tests break services."""
    (metrics_port,) = free_ports(1)
    running = Pipeline(make_settings(tmp_path, produce_timeout_s=2.0, analytics_refresh_s=0.5,
                                     worker_metrics_port=metrics_port, kafka_message_bytes=SMALL_MESSAGES)).start()
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
        # (monotonic time sent, monotonic time answered, statement ids) of every acknowledged request.
        self.acked_requests: list[tuple[float, float, list[str]]] = []
        self.refused = 0
        # The statement ids of each refused request (every request is several messages: SMALL_MESSAGES).
        self.refused_ids: list[list[str]] = []
        # (monotonic time sent, monotonic time answered, status; 0 = no answer) of every request.
        self.answers: list[tuple[float, float, int]] = []
        self.unexpected: list[str] = []
        self.stopping = threading.Event()
        self.in_flight = threading.Event()  # set while a request waits for its answer
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for _ in range(self.batches):
            if self.stopping.is_set():
                break
            batch = [_in_course(i) for i in range(self.size)]
            sent = time.monotonic()
            self.in_flight.set()
            try:
                response = self.http.post("/xapi/statements", json=batch)
            except Exception:  # the LRS itself may be restarting
                self.refused += 1
                self.refused_ids.append([b["id"] for b in batch])
                self.answers.append((sent, time.monotonic(), 0))
                continue
            finally:
                self.in_flight.clear()
            done = time.monotonic()
            self.answers.append((sent, done, response.status_code))
            if response.status_code == 200:
                self.acked_requests.append((sent, done, response.json()))
            else:
                if response.status_code != 503:
                    self.unexpected.append(f"{response.status_code}: {response.text[:300]}")
                self.refused += 1
                self.refused_ids.append([b["id"] for b in batch])
            time.sleep(self.pause)

    @property
    def acked(self) -> list[str]:
        """Every acknowledged statement id, in the order acknowledged."""
        return [sid for _, _, ids in self.acked_requests for sid in ids]

    def in_flight_at(self, moment: float) -> list[int]:
        """Statuses of the requests sent before ``moment`` and answered (or failed) after it."""
        return [status for sent, done, status in self.answers if sent < moment < done]

    def first_success_after(self, moment: float) -> float | None:
        """When the first request sent after ``moment`` was acknowledged (None: none was)."""
        return next((done for sent, done, status in self.answers if sent > moment and status == 200), None)

    def __enter__(self) -> Sender:
        self.thread.start()
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:  # the test failed inside the block: stop sending, show its error
            self.stopping.set()
        self.thread.join(timeout=300)
        assert not self.unexpected, f"answers other than 200 and 503: {self.unexpected[:3]}"


def _api_ids(sender: Sender) -> list[str]:
    """Every statement id the tenant's reads return, following ``more`` links (duplicates kept, to be counted)."""
    ids: list[str] = []
    page = sender.http.get("/xapi/statements", params={"limit": 500}).json()
    while True:
        ids += [s["id"] for s in page["statements"]]
        if not page.get("more"):
            return ids
        page = sender.http.get(page["more"]).json()


def _analytics_statements(pipeline: Pipeline, tenant: str) -> int:
    """Statements the public analytics count for the tenant (every statement sent here is in a course)."""
    client = pipeline.clickhouse()
    try:
        return int(client.execute("SELECT sum(statements) FROM engagement_daily WHERE tenant = %(t)s",
                                  {"t": tenant})[0][0] or 0)
    finally:
        client.disconnect()


def _assert_refused_requests_wholly_or_not_at_all(sender: Sender) -> None:
    """A refused request of several messages is one Kafka transaction: none or all of it is stored."""
    assert sender.refused_ids, "some requests were refused while the broker was away"
    stored = set(_api_ids(sender))
    partial = [(len(set(batch) & stored), len(batch)) for batch in sender.refused_ids
               if 0 < len(set(batch) & stored) < len(batch)]
    assert not partial, f"refused requests stored in part (stored, sent): {partial}"


def _assert_exactly_once(pipeline: Pipeline, sender: Sender) -> None:
    """Counted the way clients and dashboards see them, never after merging: through the API's paged reads
    and the analytics, which must agree with each other and with what was acknowledged."""
    expected = len(set(sender.acked))
    assert expected > 0
    try:
        wait_until(lambda: len(set(_api_ids(sender))) >= expected, 120,
                   what=f"{expected} acknowledged statements readable through the API")
    except AssertionError as failed:  # where the sink stands: behind an open transaction, or stuck
        raise AssertionError(f"{failed}\n{_missing_diagnosis(pipeline, sender)}\n{_sink_diagnosis(pipeline)}") from None
    ids = _api_ids(sender)
    # A request whose response was lost (LRS killed after the broker acknowledged) may be stored without
    # having been acknowledged: more may be stored than acknowledged, never less, and nothing twice.
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} statements returned twice by the API"
    assert set(sender.acked) <= set(ids), "every acknowledged statement is readable"
    assert len(ids) <= expected + sender.size * (sender.refused + 1)
    wait_until(lambda: _analytics_statements(pipeline, sender.tenant) == len(ids), 120, interval=1,
               what=f"the analytics to count the {len(ids)} statements the API returns")
    wait_until(lambda: analytics_differences(pipeline, sender.tenant) == [], 120, interval=1,
               what="analytics tables equal to the batch recomputation")


def _committed_and_written(pipeline: Pipeline) -> tuple[dict[int, int], dict[int, int]]:
    """Per statements partition: the consumer group's committed offset (next to read) and the last offset the
    sink wrote to ClickHouse (``sink_offsets``, recorded in the same batch as the rows)."""
    from kafka import KafkaAdminClient

    topic = pipeline.settings.statements_topic
    admin = KafkaAdminClient(bootstrap_servers=pipeline.settings.kafka_bootstrap, request_timeout_ms=10_000)
    try:
        group = pipeline.settings.worker_app_id
        committed = {tp.partition: meta.offset for tp, meta in
                     admin.list_group_offsets({group: None}).get(group, {}).items() if tp.topic == topic}
    finally:
        admin.close()
    client = pipeline.clickhouse()
    try:
        written = dict(client.execute("SELECT partition, argMax(offset, updated_us) FROM sink_offsets "
                                      "WHERE topic = %(t)s GROUP BY partition", {"t": topic}))
    finally:
        client.disconnect()
    return committed, written


def _statement_ids_in_kafka(pipeline: Pipeline, isolation: str) -> set[str]:
    """The ids of every statement on the statements topic as a consumer of ``isolation`` reads them."""
    from kafka import KafkaConsumer, TopicPartition

    from lrs.core.kafka.envelope import decode_statements

    consumer = KafkaConsumer(bootstrap_servers=pipeline.settings.kafka_bootstrap, isolation_level=isolation,
                             consumer_timeout_ms=3000, enable_auto_commit=False)
    try:
        topic = pipeline.settings.statements_topic
        consumer.assign([TopicPartition(topic, p) for p in range(pipeline.settings.topic_partitions)])
        consumer.seek_to_beginning()
        return {env.statement["id"] for m in consumer for env in decode_statements(m.value)}
    finally:
        consumer.close()


def _py_spy_dump(pid: int, *extra: str) -> str:
    """A process's Python stacks (py-spy), or why there are none."""
    try:
        return subprocess.run([PY_SPY, "dump", *extra, "--pid", str(pid)], capture_output=True, text=True,
                              timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        return f"(no stacks: {exc})"


def _broker_log_lines(pipeline: Pipeline) -> Iterator[tuple[str, str]]:
    """``(node, line)`` of every broker log of the stack."""
    for log in sorted((Path(pipeline.settings.state_dir) / "logs").glob("broker*.log")):
        for line in log.read_text(errors="replace").splitlines():
            yield log.stem, line


def _missing_diagnosis(pipeline: Pipeline, sender: Sender) -> str:
    """Which acknowledged requests are not readable (when sent and answered, seconds after the first request) and
    whether their statements are in Kafka at all: committed, only in an aborted transaction, or nowhere."""
    readable = set(_api_ids(sender))
    start = sender.answers[0][0] if sender.answers else 0.0
    missing = [(round(sent - start, 2), round(done - start, 2), [i for i in ids if i not in readable])
               for sent, done, ids in sender.acked_requests]
    missing = [(sent, done, ids) for sent, done, ids in missing if ids]
    in_kafka = {isolation: _statement_ids_in_kafka(pipeline, isolation)
                for isolation in ("read_uncommitted", "read_committed")}
    wanted = {i for _, _, ids in missing for i in ids}
    answers = [(round(sent - start, 2), round(done - start, 2), status) for sent, done, status in sender.answers
               if status != 200]
    return (f"acknowledged requests with unreadable statements (sent, answered, count): "
            f"{[(sent, done, len(ids)) for sent, done, ids in missing]}\n"
            f"of their {len(wanted)} statements: {len(wanted & in_kafka['read_committed'])} committed in Kafka, "
            f"{len((wanted & in_kafka['read_uncommitted']) - in_kafka['read_committed'])} only in aborted or open "
            f"transactions, {len(wanted - in_kafka['read_uncommitted'])} not in Kafka at all\n"
            f"refused requests (sent, answered, status): {answers}")


def _sink_diagnosis(pipeline: Pipeline) -> str:
    """Per statements partition: the end offset, the last stable offset (read_committed's end: an open transaction
    holds it back), the group's committed offset and the sink's last written one; and the worker's Python stacks."""
    from kafka import KafkaConsumer, TopicPartition

    topic = pipeline.settings.statements_topic
    parts = [TopicPartition(topic, p) for p in range(pipeline.settings.topic_partitions)]
    ends = {}
    for isolation in ("read_uncommitted", "read_committed"):
        consumer = KafkaConsumer(bootstrap_servers=pipeline.settings.kafka_bootstrap, isolation_level=isolation)
        try:
            ends[isolation] = {tp.partition: offset for tp, offset in consumer.end_offsets(parts).items()}
        finally:
            consumer.close()
    committed, written = _committed_and_written(pipeline)
    rows = [f"partition {p}: end {ends['read_uncommitted'].get(p)}, stable {ends['read_committed'].get(p)}, "
            f"committed {committed.get(p)}, written {written.get(p)}" for p in range(len(parts))]
    stacks = [_py_spy_dump(worker.proc.pid) for worker in pipeline.workers]
    return "sink:\n" + "\n".join(rows) + "\nworker stacks:\n" + "\n".join(stacks)


def _written_not_committed(pipeline: Pipeline) -> list[int]:
    """Partitions with a batch in ClickHouse whose offsets the group has not committed yet."""
    committed, written = _committed_and_written(pipeline)
    return [p for p, offset in written.items() if offset >= committed.get(p, 0)]


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
        wait_until(lambda: own_pipeline.stored_count(sender.tenant) > 0, 60, interval=0.05,
                   what="the sink writing the load")
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
    """kill -9 of the worker while a batch sits between its ClickHouse insert and its offset commit."""
    worker = own_pipeline.workers[0]
    with Sender(own_pipeline, batches=80) as sender:

        def frozen_between_insert_and_commit() -> dict[int, tuple[int, int]]:
            # Frozen (SIGSTOP), the worker can commit nothing: what is checked now is what the kill will hit. A commit
            # can land between a check and a signal, so a miss thaws it and tries again.
            if not _written_not_committed(own_pipeline):
                return {}
            os.killpg(worker.proc.pid, signal.SIGSTOP)
            in_flight: dict[int, tuple[int, int]] = {}
            try:
                committed, written = _committed_and_written(own_pipeline)
                in_flight = {p: (written[p], committed.get(p, 0)) for p in written
                             if written[p] >= committed.get(p, 0)}
            finally:
                if not in_flight:
                    os.killpg(worker.proc.pid, signal.SIGCONT)
            return in_flight

        in_flight = wait_until(frozen_between_insert_and_commit, 60, interval=0.01,
                               what="a batch written to ClickHouse but not yet committed")
        # The worker dies with written, uncommitted batches, which the restarted worker gets again and must write
        # idempotently.
        worker.kill(signal.SIGKILL)
        assert in_flight
        worker.start()
    _assert_exactly_once(own_pipeline, sender)


def test_lrs_killed_mid_stream_keeps_everything_acknowledged(own_pipeline: Pipeline) -> None:
    with Sender(own_pipeline, batches=80) as sender:
        wait_until(lambda: len(sender.acked) > 0 and sender.in_flight.is_set(), 60, interval=0.001,
                   what="load flowing with a request in flight")
        killed = time.monotonic()  # before the kill: the request it cuts off fails after this moment
        own_pipeline.lrs.kill(signal.SIGKILL)
        own_pipeline.lrs.start()
        own_pipeline.wait_lrs()
    assert 0 in sender.in_flight_at(killed), "the kill cut off the request in flight (no answer)"
    _assert_exactly_once(own_pipeline, sender)


def test_clickhouse_killed_mid_stream(own_pipeline: Pipeline) -> None:
    with Sender(own_pipeline, batches=60) as sender:
        wait_until(lambda: own_pipeline.stored_count(sender.tenant) > 0, 60, interval=0.05,
                   what="the sink writing the load")
        own_pipeline.stack.kill_service("clickhouse")
        # The kill hit the sink's work: its current batch fails and is retried (not just an idle moment).
        wait_until(lambda: _worker_metric(own_pipeline, "lrs_worker_sink_stalled_seconds") > 0, 30, interval=0.1,
                   what="the sink's batch failing on the killed ClickHouse")
        own_pipeline.stack.start_service("clickhouse")
    assert sender.acked and sender.refused == 0, "ingest only needs Kafka: no request refused"
    _assert_exactly_once(own_pipeline, sender)


def test_broker_killed_under_load_keeps_everything_acknowledged(own_pipeline: Pipeline) -> None:
    """kill -9 of the only broker under load: 503 (never 200) while it is down, 200 again once it is back
    without restarting the LRS or the workers, and every acknowledged statement stored exactly once."""
    with Sender(own_pipeline, batches=10_000, size=20, pause=0.02) as sender:
        wait_until(lambda: len(sender.acked) >= 200, 60, what="load flowing before the kill")
        acked_before = len(sender.acked)
        wait_until(lambda: sender.in_flight.is_set(), 10, interval=0.001, what="a request in flight")
        killed = time.monotonic()  # before the signal: kill_service returns only once the broker is gone and
        own_pipeline.stack.kill_service("broker")  # reaped, by when the request it hit may have had its 503
        time.sleep(8)  # longer than the LRS's produce timeout (2 s): requests in flight must have failed
        restarted = time.monotonic()
        own_pipeline.stack.start_service("broker")
        wait_until(lambda: sender.first_success_after(restarted), 60, what="a 200 after the broker came back")
        time.sleep(1)
        sender.stopping.set()
    assert acked_before > 0
    assert sender.in_flight_at(killed), "the kill hit a request in flight"
    down = [status for sent, done, status in sender.answers if sent > killed + 1 and done < restarted]
    assert down and set(down) == {503}, f"while the broker was down: {sorted(set(down))} ({len(down)} requests)"
    assert own_pipeline.lrs.proc.poll() is None and own_pipeline.workers[0].proc.poll() is None
    _assert_exactly_once(own_pipeline, sender)
    _assert_refused_requests_wholly_or_not_at_all(sender)


@pytest.fixture
def replicated_pipeline(tmp_path) -> Iterator[Pipeline]:
    """A pipeline on a three-node Kafka cluster (replication 3, min.insync.replicas 2)."""
    running = Pipeline(make_settings(tmp_path, brokers=3, produce_timeout_s=5.0, analytics_refresh_s=0.5,
                                     kafka_message_bytes=SMALL_MESSAGES)).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.parametrize("role", ["statements leader", "transaction coordinator"])
def test_leader_broker_killed_fails_over_losing_nothing(replicated_pipeline: Pipeline, role: str,
                                                         record_property: Callable[[str, object], None]) -> None:
    """kill -9 of the broker leading the statements partitions, or of the one coordinating the LRS's Kafka
    transactions: the LRS answers 200 again within 30 s, zero acknowledged statements lost or doubled. The 503
    window is reported (``record_property`` and stdout)."""
    pipeline = replicated_pipeline
    topic = pipeline.settings.statements_topic
    with Sender(pipeline, batches=10_000, size=20, pause=0.02) as sender:
        wait_until(lambda: len(sender.acked) >= 200, 60, what="load flowing before the kill")
        victim = (pipeline.stack.leader_of(topic, 0) if role == "statements leader"
                  else pipeline.stack.leader_of("__transaction_state", _lrs_transaction_partition(pipeline)))
        pipeline.stack.kill_service(victim)
        killed = time.monotonic()
        try:
            back = wait_until(lambda: sender.first_success_after(killed + 0.5), 30,
                              what=f"a 200 from the LRS after the {role} was killed")
        except AssertionError as failed:  # say what the LRS answered and where its threads wait
            raise AssertionError(f"{failed}\n{_failover_diagnosis(pipeline, sender, killed)}") from None
        if role == "statements leader":
            assert pipeline.stack.leader_of(topic, 0) != victim, "another broker leads the partition now"
        time.sleep(2)  # some load on the two survivors
        sender.stopping.set()
    refused = [status for sent, _, status in sender.answers if sent > killed and status != 200]
    window = back - killed
    record_property("failover_503_window_s", round(window, 2))
    print(f"failover: {victim} ({role}) killed; first 200 after {window:.2f} s; {len(refused)} requests refused")
    assert window < 30
    _assert_exactly_once(pipeline, sender)
    if sender.refused_ids:  # a fast failover may refuse nothing
        _assert_refused_requests_wholly_or_not_at_all(sender)


def _lrs_transaction_partition(pipeline: Pipeline) -> int:
    """The ``__transaction_state`` partition of the LRS's transactional id, from the coordinator's log line."""
    for _, line in _broker_log_lines(pipeline):
        found = re.search(r"Initialized transactionalId lrs-\S+ .* on partition __transaction_state-(\d+)", line)
        if found:
            return int(found.group(1))
    raise AssertionError("no broker logged the LRS's transactional id")


def _failover_diagnosis(pipeline: Pipeline, sender: Sender, killed: float) -> str:
    """The answers since ``killed`` (seconds after it: sent, answered, status) and the LRS's Python stacks."""
    answers = [(round(sent - killed, 1), round(done - killed, 1), status)
               for sent, done, status in sender.answers if done > killed]
    stacks = _py_spy_dump(pipeline.lrs.proc.pid, "--subprocesses")
    marks = ("Fencing broker", "Elected as the txn", "Initialized transactionalId", "Performing controller activation")
    # What the surviving brokers did: fencing the victim, moving leaders and transaction coordinators.
    lines = "\n".join(f"{node}: {line[:220]}" for node, line in _broker_log_lines(pipeline)
                       if any(mark in line for mark in marks))
    return f"answers since the kill: {answers}\nbroker failover lines:\n{lines}\nLRS stacks:\n{stacks}"


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def test_clickhouse_down_for_minutes_memory_stays_bounded(own_pipeline: Pipeline) -> None:
    """ClickHouse gone for 60 s under steady load: ingest goes on, the worker waits with bounded memory."""
    worker_pid = own_pipeline.workers[0].proc.pid
    with Sender(own_pipeline, batches=270, size=50, pause=0.2) as sender:
        time.sleep(2)
        before = _rss_mb(worker_pid)
        own_pipeline.stack.stop_service("clickhouse")
        samples = []
        for _ in range(12):
            time.sleep(5)
            samples.append(_rss_mb(worker_pid))
        stalled = _worker_metric(own_pipeline, "lrs_worker_sink_stalled_seconds")
        own_pipeline.stack.start_service("clickhouse")
    assert stalled > 40, "the lag was visible in the metrics"
    assert sender.refused == 0 and len(sender.acked) > 6_000, (sender.refused, len(sender.acked))
    # The worker stops taking messages while its batch cannot be written: no growth with the backlog.
    assert max(samples) - before < 150, f"worker RSS {before:.0f} MB -> {samples}"
    assert max(samples[6:]) - max(samples[:6]) < 50, f"RSS still growing in the second half: {samples}"
    _assert_exactly_once(own_pipeline, sender)


def test_a_stalled_sink_leaves_the_backlog_in_kafka_not_in_the_worker(tmp_path) -> None:
    """ClickHouse gone while 100 MB of statements arrive: the worker takes at most LRS_WORKER_STREAM_BUFFER messages
    ahead of its two sink batches (Faust's default buffer, 4,096 messages, took in the whole backlog), its intake and
    batches hold at most about LRS_SINK_BATCH_LIMIT_BYTES each (counted in messages only, 500 of these would be
    100 MB), and once ClickHouse is back every acknowledged statement is stored."""
    (metrics_port,) = free_ports(1)
    limit = 1024 * 1024
    pipeline = Pipeline(make_settings(tmp_path, worker_metrics_port=metrics_port, sink_batch_size=500,
                                      sink_batch_limit_bytes=limit, worker_stream_buffer=8)).start()
    try:
        tenant, http = pipeline.new_tenant()
        # Requests of 400 statements: one message of about 200 KB each.
        bodies = [[_in_course(i) for i in range(400)] for _ in range(4)]
        assert http.post("/xapi/statements", json=bodies[0]).status_code == 200
        wait_until(lambda: pipeline.stored_count(tenant) == 400, 60, what="the first request stored")
        worker_pid = pipeline.workers[0].proc.pid
        before = _rss_mb(worker_pid)
        pipeline.stack.stop_service("clickhouse")
        acked = 400
        for k in range(500):  # about 100 MB
            body = [{**s, "id": str(uuid.uuid4())} for s in bodies[k % 4]]
            response = http.post("/xapi/statements", json=body, timeout=60)
            assert response.status_code == 200, response.text[:300]
            acked += len(body)
        time.sleep(10)  # the worker has fetched what it would take
        grown = _rss_mb(worker_pid) - before
        assert _worker_metric(pipeline, "lrs_worker_sink_stalled_seconds") > 0, "the sink was stalled"
        queued = _worker_metric(pipeline, "lrs_worker_sink_queued_bytes")
        pipeline.stack.start_service("clickhouse")
        # The intake filled up to its limit (and one message past it), no further.
        assert limit <= queued < limit + 300_000, queued
        # 100 MB of backlog; the worker holds about 3 MB of messages and a fetch of at most 1 MB per partition.
        assert grown < 40, f"worker RSS grew by {grown:.0f} MB behind the stalled sink"
        wait_until(lambda: pipeline.stored_count(tenant) == acked, 300, what=f"all {acked} statements stored")
    finally:
        pipeline.stop()


def test_the_analytics_make_way_for_a_sink_draining_a_backlog(tmp_path) -> None:
    """A backlog waits in Kafka, not in the sink's intake (bounded by LRS_SINK_BATCH_LIMIT_BYTES), so the intake's
    oldest message is never old: the sink counts as behind while its intake is full, and the analytics refresh
    pauses between rounds then (and only then), its figures still exact once the backlog is written."""
    (metrics_port,) = free_ports(1)
    pipeline = Pipeline(make_settings(tmp_path, worker_metrics_port=metrics_port,
                                      sink_batch_limit_bytes=128 * 1024)).start()
    try:
        tenant, http = pipeline.new_tenant()
        bodies = [[_in_course(i) for i in range(k, 400 + k)] for k in range(4)]
        for body in bodies:  # keeping up: requests apart, each written long before the next
            assert http.post("/xapi/statements", json=body).status_code == 200
            wait_until(lambda: not analytics_differences(pipeline, tenant), 60, what="the analytics caught up")
        assert _worker_metric(pipeline, "lrs_worker_analytics_paused_seconds_total") == 0, \
            "a sink that keeps up never holds the analytics back"
        worker = pipeline.workers[0].proc.pid
        os.killpg(worker, signal.SIGSTOP)  # briefly: well within the worker's Kafka session
        try:
            for k in range(40):  # 16,000 statements, about 8 MB: a backlog of some 60 intakes
                body = [{**s, "id": str(uuid.uuid4())} for s in bodies[k % 4]]
                assert http.post("/xapi/statements", json=body, timeout=60).status_code == 200
        finally:
            os.killpg(worker, signal.SIGCONT)
        wait_until(lambda: pipeline.stored_count(tenant) == 17_600, 120, what="the backlog stored")
        assert _worker_metric(pipeline, "lrs_worker_analytics_paused_seconds_total") > 0, \
            "the refresh never paused for the sink draining a backlog"
        wait_until(lambda: not analytics_differences(pipeline, tenant), 120, what="the analytics caught up")
    finally:
        pipeline.stop()
