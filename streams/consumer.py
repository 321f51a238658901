"""Faust's Kafka transport as the workers need it: ``read_committed`` reads, and fetches that wait to fill.

**read_committed.** The LRS writes a request of several messages in one Kafka transaction
(lrs/service/transactions.py), so the workers must not see a transaction's messages before it commits, nor ever
after it aborts. Faust reads ``read_committed`` only under ``processing_guarantee="exactly_once"``, which also
routes every send of the app through one transactional producer per *destination* partition
(``<app>-<group>-<partition>``); that producer exists, and is committed, only if this worker consumes the same
partition of a co-partitioned source. The workers' outputs are keyed differently from their inputs (an analytics
marker by tenant and course, a statement by learner), so under it their sends fail or wait in transactions
committed late, and the analytics stream stalled (docs/architecture.md). The workers need no transactions of their
own (every output is idempotent and acknowledged before the input's offset is committed), only the isolation level.

**Fetches that wait to fill.** Faust asks aiokafka for at least one byte per fetch, so the broker answers each fetch
as soon as one message is there: under single-statement POSTs the worker sent a fetch, and parsed an answer, for
nearly every message (the fetch loop's socket writes alone were 8 % of its Python time). A fetch now waits for
``worker_fetch_min_bytes`` or ``worker_fetch_max_wait_ms``, whichever comes first: a message waits at most that long
more, and under load (a batched request fills it) not at all.

This transport gives exactly that; it is set on the app through its public ``transport`` attribute.
"""

from __future__ import annotations

from typing import Any

import aiokafka
import faust
from faust.transport.drivers import aiokafka as driver

from lrs.core.config import Settings

ISOLATION = "read_committed"


class WorkerConsumerThread(driver.AIOKafkaConsumerThread):
    """Faust's consumer thread whose Kafka consumer reads as :class:`WorkerTransport`'s settings say."""

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        settings: Settings = transport.settings
        # aiokafka reads these when the consumer starts (its fetcher is built then), not before.
        if settings.kafka_transactions:  # the LRS writes multi-partition requests in transactions
            consumer._isolation_level = ISOLATION
        consumer._fetch_min_bytes = settings.worker_fetch_min_bytes
        consumer._fetch_max_wait_ms = settings.worker_fetch_max_wait_ms
        return consumer

    def highwater(self, tp: Any) -> int:
        """The last stable offset: under read_committed the high watermark may sit inside an open transaction (and
        without transactions the two are the same)."""
        return self._ensure_consumer().last_stable_offset(tp)


class WorkerConsumer(driver.Consumer):
    """Faust's aiokafka consumer with :class:`WorkerConsumerThread`."""

    def _new_consumer_thread(self) -> WorkerConsumerThread:
        return WorkerConsumerThread(self, loop=self.loop, beacon=self.beacon)


class WorkerTransport(driver.Transport):
    """Faust's aiokafka transport whose consumers read committed messages only (under the LRS's transactions) and
    ask the broker to fill each fetch up to ``worker_fetch_min_bytes`` for at most ``worker_fetch_max_wait_ms``."""

    Consumer = WorkerConsumer

    def __init__(self, url: Any, app: faust.App, settings: Settings) -> None:
        super().__init__(url, app)
        self.settings = settings


def worker_transport(app: faust.App, settings: Settings) -> None:
    """Give ``app`` the workers' consumer transport (call before the app starts)."""
    app.transport = WorkerTransport(app.conf.broker_consumer, app, settings)
