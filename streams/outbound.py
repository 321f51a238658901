"""The workers' own sends (analytics markers, at-risk events, dead letters), outside Faust's transactions.

With ``LRS_KAFKA_TRANSACTIONS`` the app runs Faust's ``exactly_once`` so that its consumers read
``read_committed`` (the LRS writes multi-partition requests in transactions). Under it, Faust routes every
``topic.send`` through a transactional producer chosen by the *destination* partition (``<app>-<group>-<p>``),
which exists and is committed only if this worker consumes that partition of a co-partitioned source topic. Our
outputs are keyed differently from their inputs (a marker by tenant and course, a statement by learner), so such
a send either fails ("No transaction producer found") or sits in a transaction that is committed late, and
read_committed consumers stop at it. Every output here is idempotent and sent before the input's offset is
committed (at least once), so it needs no transaction: it goes through the app's plain producer, and is
acknowledged (``acks=all``) before the caller goes on.
"""

from __future__ import annotations

from collections.abc import Iterable

import faust
from aiokafka.structs import RecordMetadata


async def send_all(app: faust.App, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> list[RecordMetadata]:
    """Send ``(key, value)`` messages to ``topic`` and wait until the broker acknowledged every one."""
    producer = app.producer
    await producer.maybe_start()
    pending = [await producer.send(topic, key, value, partition=None, timestamp=None, headers=None)
               for key, value in messages]
    return [await future for future in pending]
