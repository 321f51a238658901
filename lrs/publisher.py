"""Publish validated statements to Kafka and answer only once the broker acknowledged them.

kafka-python's producer is thread-safe; one per process, created lazily so the LRS starts (and
answers 503) while the broker is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from lrs import metrics
from lrs.config import Settings
from lrs.produced_board import ProducedBoard


class BrokerUnavailable(RuntimeError):
    """The broker did not acknowledge in time; nothing may be reported as stored."""


class Publisher:
    """Produces statement messages with ``acks=all`` and remembers the offsets it was given."""

    def __init__(self, settings: Settings, board: ProducedBoard | None = None) -> None:
        self.settings = settings
        self.board = board
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()
        # Highest offset this process was acknowledged per partition: the read-your-writes target.
        self.produced: dict[int, int] = {}

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                timeout_ms = int(self.settings.produce_timeout_s * 1000)
                self._producer = KafkaProducer(
                    bootstrap_servers=self.settings.kafka_bootstrap.split(","),
                    client_id="lrs",
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    batch_size=256 * 1024,
                    compression_type="lz4",
                    max_request_size=self.settings.max_body_bytes + 1024 * 1024,
                    max_block_ms=timeout_ms,
                    request_timeout_ms=timeout_ms,
                    delivery_timeout_ms=timeout_ms + 2000,
                    reconnect_backoff_max_ms=1000,
                )
            return self._producer

    def publish(self, messages: Sequence[tuple[bytes, bytes]]) -> None:
        """Send ``(key, value)`` messages and block until all are acknowledged; else BrokerUnavailable."""
        start = time.perf_counter()
        deadline = start + self.settings.produce_timeout_s
        try:
            producer = self._get_producer()
            futures = [producer.send(self.settings.statements_topic, key=k, value=v) for k, v in messages]
            # Wait for this request's own messages only (flush() would also wait for every other request's).
            results = [f.get(timeout=max(0.01, deadline - time.perf_counter())) for f in futures]
        except (KafkaError, OSError) as exc:
            raise BrokerUnavailable(f"the message broker did not acknowledge: {type(exc).__name__}") from exc
        with self._lock:
            for meta in results:
                if meta.offset > self.produced.get(meta.partition, -1):
                    self.produced[meta.partition] = meta.offset
            if self.board is not None:  # only the partitions this request wrote to
                self.board.record({meta.partition: self.produced[meta.partition] for meta in results})
        metrics.PRODUCE_LATENCY.observe(time.perf_counter() - start)

    def send(self, topic: str, key: bytes, value: bytes) -> None:
        """Send one message to ``topic`` and block until acknowledged (``acks=all``); else BrokerUnavailable.

        Not recorded in ``produced``: that is the statements sink's read-your-writes target only.
        """
        deadline = time.perf_counter() + self.settings.produce_timeout_s
        try:
            future = self._get_producer().send(topic, key=key, value=value)
            future.get(timeout=max(0.01, deadline - time.perf_counter()))
        except (KafkaError, OSError) as exc:
            raise BrokerUnavailable(f"the message broker did not acknowledge: {type(exc).__name__}") from exc

    def produced_offsets(self) -> dict[int, int]:
        """The highest acknowledged offset per partition, of every LRS process on this host if shared."""
        if self.board is not None:
            return self.board.read()
        with self._lock:
            return dict(self.produced)

    def close(self) -> None:
        """Flush and close the producer."""
        with self._lock:
            if self._producer is not None:
                self._producer.close(timeout=2)
                self._producer = None
