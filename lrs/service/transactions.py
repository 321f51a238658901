"""All of a request's messages in Kafka, or none: Kafka transactions with a group commit.

A statement request over ``kafka_message_bytes`` travels as several messages (``lrs.core.kafka.envelope``). To keep
a broker failure from leaving part of it in Kafka, those messages are written in one transaction; the workers
read ``read_committed`` (streams/read_committed.py), so an aborted or unfinished transaction is never stored.

One transaction per request would cost six times the throughput and five times the broker's CPU
(``lrs/tools/bench/probes/kafka_transactions.py``), so one thread commits, in one transaction, every request
that arrived while the previous commit ran (at most ``MAX_GROUP``): the cost per request falls with the load.

kafka-python's ``commit_transaction`` and ``abort_transaction`` wait without a bound (for a broker that may be
down), so the thread never calls them: it flushes with a bound first (a send that cannot be delivered fails there),
waits for the commit with a bound too (``commit_within``: a commit whose coordinator is killed can hold the thread,
and so every later request), and after any failure it abandons its producer without aborting. The next
producer takes the same transactional id, so its ``init_transactions`` (bounded by ``max_block_ms``) fences the
abandoned one and aborts its open transaction at once, rather than after ``transaction_timeout_ms`` (or completes
its commit, if the coordinator logged it: then the group's requests got 503 for statements that are stored, as
when a caller's own wait runs out; a retry with the same statement ids is idempotent). A request's caller bounds
its own wait (503) in any case.

A confirmed commit is not yet what the workers read: the coordinator writes the commit markers into the
partitions after it answers, and a ``read_committed`` reader sees the messages only once they are there. A broker
killed in between must finish that after its restart, and a single broker restarted before its old session expired
lost the markers so (2 of 50 runs of the kill test: the transaction ended aborted, after the LRS had answered 200;
docs/operations.md). So a request is answered only once its partitions' last stable offsets (``read_committed``
end offsets, one ListOffsets request per look for every group waiting) passed its messages
(``last_stable_offsets``): on a thread of its own (``_confirm``), so the next group's transaction is not held up.

An ``init_transactions`` that runs out of time is not a failure of its producer: the coordinator may be moving
(a killed broker is fenced only after its session times out, about 10 s). The next group waits on for the same
request instead of starting another producer, whose initialisation would start over and bump the epoch once more
(``INIT_PATIENCE_S`` bounds the wait). For that wait to end, ``keep_requests_for_a_dead_coordinator`` works around
a kafka-python bug that lost the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from kafka.producer.future import RecordMetadata

log = logging.getLogger(__name__)

# Requests per transaction at most: bounds a group's size (and what one failure refuses).
MAX_GROUP = 64
# How long an abandoned producer may take to close (its undeliverable batches expire before: delivery timeout).
CLOSE_WAIT_S = 30.0
# How long a producer's initialisation may stay pending (over several groups) before it is replaced by a new one.
INIT_PATIENCE_S = 30.0
# Between two looks at the last stable offsets of a committed group's partitions (its markers usually take 1-5 ms).
CONFIRM_POLL_S = 0.001


@dataclass
class _Request:
    """One request's messages ``(partition, key, value)`` and where its outcome goes."""

    messages: Sequence[tuple[int, bytes, bytes]]
    loop: asyncio.AbstractEventLoop
    outcome: asyncio.Future[list[RecordMetadata]]


@dataclass
class _Committed:
    """A committed group, waiting until ``read_committed`` readers can read past its messages (or ``deadline``)."""

    requests: list[_Request]
    results: list[list[RecordMetadata]]
    last_offsets: dict[TopicPartition, int]
    deadline: float


class TransactionalSender:
    """Writes each submitted request's messages to ``topic`` atomically, in group-committed transactions."""

    def __init__(self, topic: str, producer_config: dict[str, object], transaction_timeout_ms: int,
                 name: str = "lrs") -> None:
        self.topic = topic
        self._config = producer_config
        self._timeout_ms = transaction_timeout_ms
        # Unique per process: a crashed process's open transaction is aborted by the coordinator after
        # ``transaction_timeout_ms``; until then read_committed consumers wait at its first message.
        self._transactional_id = f"{name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # A group's sends must be in the broker within this; then the commit itself is one round trip.
        self._flush_timeout_s = float(producer_config.get("request_timeout_ms", 5000)) / 1000  # type: ignore[arg-type]
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._committed: queue.SimpleQueue[_Committed | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._confirming: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, messages: Sequence[tuple[int, bytes, bytes]]) -> asyncio.Future[list[RecordMetadata]]:
        """Queue one request's messages; the future resolves with their metadata once committed (or fails)."""
        loop = asyncio.get_running_loop()
        request = _Request(messages, loop, loop.create_future())
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lrs-kafka-transactions", daemon=True)
                self._thread.start()
                self._confirming = threading.Thread(target=self._confirm, name="lrs-kafka-confirm", daemon=True)
                self._confirming.start()
        self._queue.put(request)
        return request.outcome

    def close(self) -> None:
        """Stop the threads after the groups queued so far."""
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
                self._thread.join(timeout=5)
                self._thread = None
            if self._confirming is not None:
                self._committed.put(None)
                self._confirming.join(timeout=5)
                self._confirming = None

    # --- the committing thread ---------------------------------------------------------------------
    def _new_producer(self) -> KafkaProducer:
        producer = KafkaProducer(**self._config, transactional_id=self._transactional_id,
                                 transaction_timeout_ms=self._timeout_ms)
        keep_requests_for_a_dead_coordinator(producer)
        return producer

    def _run(self) -> None:
        producer: KafkaProducer | None = None
        pending_since = 0.0  # when the producer's still unfinished initialisation began
        while True:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            while len(group) < MAX_GROUP:  # whatever queued up meanwhile goes into the same transaction
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            group = [r for r in group if not r.outcome.done()]  # callers that gave up (503) need nothing
            if not group:
                continue
            initialised = False
            try:
                if producer is None:
                    producer, pending_since = self._new_producer(), time.monotonic()
                # Fences a producer abandoned after a failure, aborting its transaction. Returns at once once done;
                # after a timeout, the next call waits on for the same request.
                producer.init_transactions()
                initialised = True
                producer.begin_transaction()
                sent = [[producer.send(self.topic, key=key, value=value, partition=partition)
                         for partition, key, value in request.messages] for request in group]
                producer.flush(timeout=self._flush_timeout_s)  # raises if the sends are not all in by then
                results = [[future.get(timeout=0) for future in futures] for futures in sent]
                commit_within(producer, self._flush_timeout_s)
            except Exception as exc:  # nothing of the group is committed: the next producer aborts it
                log.warning("Kafka transaction of %d request(s) failed: %s: %s", len(group), type(exc).__name__, exc)
                failure = exc if isinstance(exc, KafkaError) else KafkaError(f"{type(exc).__name__}: {exc}")
                for request in group:
                    _settle(request, failure)
                late = (not initialised and isinstance(exc, KafkaTimeoutError)
                        and time.monotonic() - pending_since < INIT_PATIENCE_S)
                if producer is not None and not late:
                    close_later(producer)  # not abort_transaction: it waits for the broker without a bound
                    producer = None
                continue
            self._committed.put(_Committed(group, results, last_offsets(results),
                                           time.monotonic() + self._flush_timeout_s))
        if producer is not None:
            close_later(producer)

    def _confirm(self) -> None:
        """Answer each committed group once its markers are in its partitions, or fail it after its deadline."""
        consumer: KafkaConsumer | None = None
        waiting: list[_Committed] = []
        stopping = False
        while not stopping or waiting:
            try:  # block for work only when nothing waits; else take what came meanwhile and look again
                item = self._committed.get(timeout=None if not waiting else CONFIRM_POLL_S)
                while True:
                    if item is None:
                        stopping = True
                    else:
                        waiting.append(item)
                    item = self._committed.get_nowait()
            except queue.Empty:
                pass
            if not waiting:
                continue
            try:
                if consumer is None:
                    consumer = self._new_confirming_consumer()
                # bounded by the nearest deadline: a broker gone must not hold the groups behind it past theirs
                wait_s = max(0.05, min(committed.deadline for committed in waiting) - time.monotonic())
                stable = last_stable_offsets(consumer, waiting, wait_s)
            except Exception as exc:  # noqa: BLE001 (a broker gone: look again until each group's deadline)
                log.debug("the last stable offsets could not be read: %s: %s", type(exc).__name__, exc)
                stable = {}
            now, still = time.monotonic(), []
            for committed in waiting:
                if all(stable.get(tp, -1) > offset for tp, offset in committed.last_offsets.items()):
                    for request, metadata in zip(committed.requests, committed.results, strict=True):
                        _settle(request, metadata)
                elif now >= committed.deadline:
                    failure = KafkaTimeoutError(f"the commit markers did not reach {sorted(committed.last_offsets)} "
                                                f"within {self._flush_timeout_s} s")
                    # committed, so likely stored later: the callers' retries with the same ids are idempotent
                    log.warning("Kafka transaction of %d request(s) committed, not readable in time: %s",
                                len(committed.requests), failure)
                    for request in committed.requests:
                        _settle(request, failure)
                else:
                    still.append(committed)
            waiting = still
        if consumer is not None:
            consumer.close()

    def _new_confirming_consumer(self) -> KafkaConsumer:
        """A group-less ``read_committed`` consumer for the last stable offsets, with the producer's connection."""
        config = {key: value for key, value in self._config.items() if key in KafkaConsumer.DEFAULT_CONFIG}
        return KafkaConsumer(**config, isolation_level="read_committed", enable_auto_commit=False)


def last_offsets(results: Sequence[Sequence[RecordMetadata]]) -> dict[TopicPartition, int]:
    """The highest offset a committed group wrote to each partition."""
    highest: dict[TopicPartition, int] = {}
    for metadata in results:
        for record in metadata:
            highest[record.topic_partition] = max(highest.get(record.topic_partition, -1), record.offset)
    return highest


def last_stable_offsets(consumer: KafkaConsumer, waiting: Sequence[_Committed],
                        timeout_s: float) -> dict[TopicPartition, int]:
    """The last stable offset of every partition the ``waiting`` groups wrote to: one ListOffsets per leader.

    A partition's last stable offset passes a message once no transaction open at or before it is left: for a
    committed transaction, once its commit marker is in the partition.
    """
    partitions = sorted({tp for committed in waiting for tp in committed.last_offsets})
    return consumer.end_offsets(partitions, timeout_ms=int(timeout_s * 1000))


def keep_requests_for_a_dead_coordinator(producer: KafkaProducer) -> None:
    """Make the producer retry, not drop, a transactional request whose coordinator cannot be reached.

    kafka-python (3.0.12) sends a request that needs the transaction coordinator (InitProducerId, AddPartitionsToTxn,
    EndTxn) only after ``await_ready`` on it; its sender re-queues the request when ``await_ready`` returns False,
    but the client raises ``KafkaConnectionError`` instead, and on that path the request is dropped: its result
    never completes. With the coordinator's broker killed, every ``init_transactions`` then ran out of time until
    the LRS gave up on the producer (a CI failure of the failover test: 503 for 30 s after the kill; reproduced
    with the client's debug log). Answering False restores the path the sender has for it: look the coordinator
    up again, retry after ``retry_backoff_ms``.
    """
    client = producer._sender._client
    await_ready = client.await_ready

    def ready_or_not(node_id: object, timeout_ms: int = 30000) -> bool:
        try:
            return bool(await_ready(node_id, timeout_ms=timeout_ms))
        except KafkaConnectionError:
            return False

    client.await_ready = ready_or_not


def commit_within(producer: KafkaProducer, timeout_s: float) -> None:
    """``commit_transaction`` within ``timeout_s``, else KafkaTimeoutError (the producer is then abandoned).

    kafka-python (3.0.12) has no bounded commit; this is its ``commit_transaction`` with a bounded wait.
    """
    result = producer._transaction_manager.begin_commit()
    producer._sender.wakeup()
    if not result.wait(timeout_ms=timeout_s * 1000):  # raises the commit's error if it failed
        raise KafkaTimeoutError(f"the transaction coordinator did not confirm the commit within {timeout_s} s")


def _settle(request: _Request, result: list[RecordMetadata] | BaseException) -> None:
    def finish() -> None:
        if request.outcome.done():
            return
        if isinstance(result, BaseException):
            request.outcome.set_exception(result)
        else:
            request.outcome.set_result(result)

    with contextlib.suppress(RuntimeError):  # the caller's loop is closed (process shutting down)
        request.loop.call_soon_threadsafe(finish)


def close_later(producer: KafkaProducer) -> None:
    """Close an abandoned producer on a thread of its own, so nothing waits for it, within ``CLOSE_WAIT_S``.

    ``close(timeout=0)`` raised in its first step (a flush of unfinished batches) and never stopped the I/O thread,
    which went on retrying a dead broker. Given time, the flush ends when the batches expire (the delivery
    timeout), then the I/O thread is stopped, or killed at the end of the wait.
    """
    def close() -> None:
        try:
            producer.close(timeout=CLOSE_WAIT_S)
        except KafkaError as exc:  # the flush's batches outlived the wait: stop the I/O thread anyway
            log.info("an abandoned Kafka producer closed by force: %s", exc)
            producer._sender.force_close()

    threading.Thread(target=close, daemon=True, name="lrs-producer-close").start()
