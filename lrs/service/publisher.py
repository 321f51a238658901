"""Publish validated statements to Kafka and answer only once the broker acknowledged them.

kafka-python's producer is thread-safe; one per process, created lazily so the LRS starts (and
answers 503) while the broker is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata, RecordMetadata

from lrs.core.config import Settings
from lrs.core.kafka.envelope import encode_statements, group_request
from lrs.core.kafka.security import kafka_options
from lrs.service import metrics
from lrs.service.produced_board import ProducedBoard
from lrs.service.transactions import TransactionalSender, close_later


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time; nothing may be reported as stored."""


class Publisher:
    """Produces statement messages with ``acks=all`` and remembers the offsets it was given."""

    def __init__(self, settings: Settings, board: ProducedBoard | None = None) -> None:
        self.settings = settings
        self.board = board
        self._producer: KafkaProducer | None = None
        self._transactions: TransactionalSender | None = None
        self._known_topics: set[str] = set()
        self._partitions: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        # The one thread that creates producers and makes first sends (both may block on an absent broker).
        self._connector = ThreadPoolExecutor(1, thread_name_prefix="lrs-kafka-connect")
        # Highest offset this process was acknowledged per tenant and partition: the read-your-writes target.
        self.produced: dict[str, dict[int, int]] = {}
        self._shared = SharedMessages(min(SHARED_MESSAGE_BYTES, settings.kafka_message_bytes))

    def _producer_config(self) -> dict[str, Any]:
        timeout_ms = int(self.settings.produce_timeout_s * 1000)
        return {
            "bootstrap_servers": self.settings.kafka_bootstrap.split(","),
            "client_id": "lrs",
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": self.settings.kafka_linger_ms,
            "batch_size": 256 * 1024,
            "compression_type": None if self.settings.kafka_compression == "none" else self.settings.kafka_compression,
            "max_request_size": self.settings.max_body_bytes + 1024 * 1024,
            "max_block_ms": timeout_ms,
            "request_timeout_ms": timeout_ms,
            "delivery_timeout_ms": timeout_ms + 2000,
            "reconnect_backoff_max_ms": 1000,
            # kafka-python's constructor waits up to 30 s for a broker by default: a request waits less.
            "bootstrap_timeout_ms": timeout_ms,
            # The client's own rate and size statistics (nothing reads them; our metrics are in lrs.service.metrics):
            # about 4 % of the LRS's Python time at single-statement load.
            "metrics_enabled": False,
            **kafka_options(self.settings),  # TLS / SASL (lrs.core.kafka.security)
        }

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = KafkaProducer(**self._producer_config())
            return self._producer

    def _get_transactions(self) -> TransactionalSender:
        with self._lock:
            if self._transactions is None:
                self._transactions = TransactionalSender(
                    self.settings.statements_topic, self._producer_config(),
                    int(self.settings.kafka_transaction_timeout_s * 1000))
            return self._transactions

    async def publish(self, tenant: str, client_key: str, keyed: Sequence[tuple[bytes, dict[str, Any]]],
                      checked: bool = False) -> None:
        """Publish ``(key, statement)`` pairs and return once all are acknowledged; else BrokerUnavailable.
        ``checked``: their ids were checked against ClickHouse (see ``lrs.core.kafka.envelope.Envelope``).

        The statements travel as one message up to ``kafka_message_bytes`` (see ``lrs.core.kafka.envelope``). No
        thread waits for the acknowledgements: the producer's I/O thread resolves one asyncio future when the last
        message of this request is acknowledged (or the first fails).
        """
        start = time.perf_counter()
        topic = self.settings.statements_topic
        producer: KafkaProducer | None = self._producer
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.produce_timeout_s + 2
        try:
            if producer is None or topic not in self._known_topics:
                # Creating the producer and the first metadata fetch block while the broker is unreachable
                # (kafka-python probes it without a bound): off the event loop, on one thread, within the deadline.
                producer = await asyncio.wait_for(loop.run_in_executor(self._connector, self._get_partitions, topic),
                                                  deadline - loop.time())
                self._known_topics.add(topic)
            groups = group_request(keyed, self._partitions[topic], self.settings.kafka_message_bytes)
            if len(groups) == 1 and self.settings.kafka_share_messages:
                # One message: it may share a message with other requests of this client (see SharedMessages).
                outcome = self._shared.join(producer, topic, (tenant, client_key, checked), groups[0])
            else:
                messages = [(partition, key, encode_statements(tenant, client_key, bodies, checked))
                            for partition, key, bodies in groups]
                if len(messages) > 1 and self.settings.kafka_transactions:
                    # Several messages: in one transaction, so a failure leaves none of the request in Kafka.
                    outcome = self._get_transactions().submit(messages)
                else:  # one message is in Kafka wholly or not at all
                    outcome = _all_acknowledged([producer.send(topic, key=key, value=value, partition=partition)
                                                 for partition, key, value in messages])
            results = await asyncio.wait_for(outcome, max(0.01, deadline - loop.time()))
        except (KafkaError, OSError, TimeoutError) as exc:
            if producer is not None:
                self._discard(producer)
            raise BrokerUnavailable(f"the message broker did not acknowledge: {type(exc).__name__}") from exc
        with self._lock:
            produced = self.produced.setdefault(tenant, {})
            for meta in results:
                if meta.offset > produced.get(meta.partition, -1):
                    produced[meta.partition] = meta.offset
            if self.board is not None:  # only the partitions this request wrote to
                self.board.record(tenant, {meta.partition: produced[meta.partition] for meta in results})
        metrics.PRODUCE_LATENCY.observe(time.perf_counter() - start)

    def _get_partitions(self, topic: str) -> KafkaProducer:
        """The producer, once it knows ``topic``'s partitions (blocks on the broker: run it on the connector)."""
        producer = self._get_producer()
        self._partitions[topic] = sorted(producer.partitions_for(topic))
        return producer

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one message to ``topic`` and block until acknowledged (``acks=all``); else BrokerUnavailable.

        Not recorded in ``produced``: that is the statements sink's read-your-writes target only.
        """
        deadline = time.perf_counter() + self.settings.produce_timeout_s
        producer = None
        try:
            producer = self._get_producer()
            future = producer.send(topic, key=key, value=value)
            future.get(timeout=max(0.01, deadline - time.perf_counter()))
        except (KafkaError, OSError) as exc:
            if producer is not None:
                self._discard(producer)
            raise BrokerUnavailable(f"the message broker did not acknowledge: {type(exc).__name__}") from exc

    def _discard(self, failed: KafkaProducer) -> None:
        """Replace the producer after a failed delivery; the next request gets a new one.

        kafka-python 3.0.12 resets an idempotent producer's id when a batch expires (the broker was unreachable
        longer than the delivery timeout) but never asks the broker for a new one, so that producer would
        refuse every later message. A new producer gets a new id; its old batches fail (503), which their
        requests answered already.
        """
        with self._lock:
            if self._producer is not failed:
                return  # another request replaced it already
            self._producer = None
            self._known_topics.clear()
        close_later(failed)

    def produced_offsets(self, tenant: str) -> dict[int, int]:
        """The highest offset per partition acknowledged for ``tenant``'s statements, of every LRS process on this
        host if shared (the board may add other tenants' offsets that share its bucket)."""
        if self.board is not None:
            return self.board.read(tenant)
        with self._lock:
            return dict(self.produced.get(tenant, {}))

    def close(self) -> None:
        """Flush and close the producer."""
        with self._lock:
            if self._producer is not None:
                # Unsent messages were never acknowledged: their requests got 503.
                with contextlib.suppress(KafkaError):
                    self._producer.close(timeout=2)
                self._producer = None
                self._known_topics.clear()
            if self._transactions is not None:
                self._transactions.close()
                self._transactions = None


# Most bytes of requests that share a message: dozens of single statements (about 1 KB each), while a request
# of more than about 64 statements travels alone as before. The sink's batches count messages (sink_batch_size,
# decoded one batch ahead), so shared messages of at most this size keep its memory near what a message per
# request took.
SHARED_MESSAGE_BYTES = 64 * 1024

class _Waiting(NamedTuple):
    """A request waiting for the loop's next turn: its message's partition, key and runs, their bytes, its answer."""

    partition: int
    key: bytes
    runs: list[bytes]
    size: int
    answer: asyncio.Future[list[RecordMetadata]]


class SharedMessages:
    """Requests of one client that reach the producer in the same turn of the event loop share one Kafka message.

    Under concurrent single-statement POSTs every request was a message of its own, and the producer's send, the
    broker's record and the stream worker's event cost more than the statement in it. Requests answered by one id
    lookup resume together; those that publish before the loop's next turn go out as one message per tenant,
    client key and ``checked`` (up to ``max_bytes``, a larger request alone; each request whole in one message, on
    the partition of its first statement's key, as any multi-learner request), and each is answered when its
    message is acknowledged.
    No request waits for others beyond the current turn; a failed send fails every request in the message (503),
    so each is still wholly in Kafka or not at all.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._waiting: dict[tuple[KafkaProducer, str, tuple[str, str, bool]], list[_Waiting]] = {}
        self._scheduled = False

    def join(self, producer: KafkaProducer, topic: str, head: tuple[str, str, bool],
             group: tuple[int, bytes, list[bytes]]) -> asyncio.Future[list[RecordMetadata]]:
        """Queue one request's message ``(partition, key, runs)``; the future gives its message's metadata."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[RecordMetadata]] = loop.create_future()
        partition, key, runs = group
        self._waiting.setdefault((producer, topic, head), []).append(
            _Waiting(partition, key, runs, sum(len(run) + 1 for run in runs), answer))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._send_waiting)
        return answer

    def _send_waiting(self) -> None:
        waiting, self._waiting, self._scheduled = self._waiting, {}, False
        for (producer, topic, head), requests in waiting.items():
            message: list[_Waiting] = []
            size = 0
            for request in requests:
                if message and size + request.size > self.max_bytes:
                    _send_shared(producer, topic, head, message)
                    message, size = [], 0
                message.append(request)
                size += request.size
            _send_shared(producer, topic, head, message)


def _send_shared(producer: KafkaProducer, topic: str, head: tuple[str, str, bool], requests: list[_Waiting]) -> None:
    """Send ``requests`` as one message and answer each of them with its outcome."""
    tenant, client_key, checked = head
    answers = [request.answer for request in requests]
    first = requests[0]
    try:
        value = encode_statements(tenant, client_key, [run for request in requests for run in request.runs], checked)
        sent = _all_acknowledged([producer.send(topic, key=first.key, value=value, partition=first.partition)])
    except Exception as exc:  # as the request's own send would have raised it (KafkaError: 503)
        for answer in answers:
            if not answer.done():
                answer.set_exception(exc)
        return

    def settle(done: asyncio.Future[list[RecordMetadata]]) -> None:
        for answer in answers:
            if answer.done():  # its request gave up waiting (timeout): nothing to tell it
                continue
            if done.cancelled():
                answer.cancel()
            elif (exc := done.exception()) is not None:
                answer.set_exception(exc)
            else:
                answer.set_result(done.result())

    sent.add_done_callback(settle)


def _all_acknowledged(futures: list[FutureRecordMetadata]) -> asyncio.Future[list[RecordMetadata]]:
    """An asyncio future of every message's metadata, resolved once from the producer's I/O thread."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[RecordMetadata]] = loop.create_future()
    remaining = [len(futures)]
    lock = threading.Lock()

    def finish(result: list[RecordMetadata] | BaseException) -> None:
        if done.done():
            return
        if isinstance(result, BaseException):
            done.set_exception(result)
        else:
            done.set_result(result)

    def acknowledged(_: RecordMetadata) -> None:
        with lock:
            remaining[0] -= 1
            last = remaining[0] == 0
        if last:
            loop.call_soon_threadsafe(finish, [f.value for f in futures])

    def failed(exc: BaseException) -> None:
        loop.call_soon_threadsafe(finish, exc)

    if not futures:
        done.set_result([])
    for future in futures:
        future.add_callback(acknowledged)
        future.add_errback(failed)
    return done
