"""Cap the long-poll wait of the workers' Kafka consumers.

Faust hard-codes ``fetch_max_wait_ms=1500`` for its consumer. The Tansu broker does not answer a waiting
multi-partition fetch when records arrive, so each message waited out the long poll (about 0.75 s on
average): harmless for the statement sink, far too slow for a client waiting on its document write.
A short cap bounds that delay; on Apache Kafka (which answers at once) it only adds a few idle fetches.
"""

from __future__ import annotations

from typing import Any

_PATCHED = "_lrs_fetch_max_wait_ms"


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Make every Faust worker consumer created from now on long-poll at most ``max_wait_ms``."""
    from faust.transport.drivers import aiokafka as driver

    current = driver.AIOKafkaConsumerThread._create_worker_consumer
    original = getattr(current, "__wrapped__", current)

    def create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = original(self, transport)
        # Read by aiokafka when it builds its fetcher in start(), i.e. after this constructor.
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    create_worker_consumer.__wrapped__ = original  # type: ignore[attr-defined]
    setattr(create_worker_consumer, _PATCHED, max_wait_ms)
    driver.AIOKafkaConsumerThread._create_worker_consumer = create_worker_consumer
