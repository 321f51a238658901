"""Faust's Kafka transport, reading ``read_committed`` while processing stays at least once.

The LRS writes a request of several messages in one Kafka transaction (lrs/service/transactions.py), so
the workers must not see a transaction's messages before it commits, nor ever after it aborts. Faust reads
``read_committed`` only under ``processing_guarantee="exactly_once"``, which also routes every send of the app
through one transactional producer per *destination* partition (``<app>-<group>-<partition>``); that producer
exists, and is committed, only if this worker consumes the same partition of a co-partitioned source. The
workers' outputs are keyed differently from their inputs (an analytics marker by tenant and course, a statement
by learner), so under it their sends fail or wait in transactions committed late, and the analytics stream
stalled (docs/architecture.md). The workers need no transactions of their own (every output is idempotent and
acknowledged before the input's offset is committed), only the isolation level: this transport gives exactly
that, and is set on the app through its public ``transport`` attribute.
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as driver

ISOLATION = "read_committed"


class ReadCommittedConsumerThread(driver.AIOKafkaConsumerThread):
    """Faust's consumer thread whose Kafka consumer skips open and aborted transactions."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka reads the level when the consumer starts (its fetcher is built then), not before.
        consumer._isolation_level = ISOLATION
        return consumer

    def highwater(self, tp: Any) -> int:
        """The last stable offset: under read_committed the high watermark may sit inside an open transaction."""
        return self._ensure_consumer().last_stable_offset(tp)


class ReadCommittedConsumer(driver.Consumer):
    """Faust's aiokafka consumer with :class:`ReadCommittedConsumerThread`."""

    def _new_consumer_thread(self) -> ReadCommittedConsumerThread:
        return ReadCommittedConsumerThread(self, loop=self.loop, beacon=self.beacon)


class ReadCommittedTransport(driver.Transport):
    """Faust's aiokafka transport whose consumers read committed messages only."""

    Consumer = ReadCommittedConsumer


def read_committed(app: faust.App) -> None:
    """Make ``app`` consume ``read_committed`` (call before the app starts)."""
    app.transport = ReadCommittedTransport(app.conf.broker_consumer, app)
