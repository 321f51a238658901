"""Batches that fill while the previous one is written (the sink's intake).

Faust's ``take`` stops collecting while its caller handles a batch, then waits up to ``within`` for the next one
even when messages are already waiting: every cycle paid that wait on top of the ClickHouse write. Here the
agent only queues events; one writer takes them in arrival order. A batch closes when it holds ``max_items`` or
when its *first* event has waited ``linger_s`` (measured from when it was queued, so under load, when events
queued during the last write, the next batch starts at once), like a Kafka producer's linger.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Generic, TypeVar

T = TypeVar("T")


class LingerQueue(Generic[T]):
    """A bounded FIFO handing out batches of at most ``max_items``, each closed by size or by its first item's age.

    At most ``max_items`` wait in the queue besides the batch being handled, so memory stays bounded by two
    batches; ``put`` waits while the queue is full (the consumer stops taking from Kafka).
    """

    def __init__(self, max_items: int, linger_s: float) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.linger_s = max(0.0, linger_s)
        self._queue: asyncio.Queue[tuple[float, T]] = asyncio.Queue(max_items)
        self._stamps: deque[float] = deque()  # when each queued item was queued, oldest first (FIFO like the queue)

    def full(self) -> bool:
        """Whether ``put`` would wait."""
        return self._queue.full()

    def oldest_wait_s(self) -> float:
        """How long the oldest queued item has waited (0 when none waits): how far the consumer is behind."""
        return time.monotonic() - self._stamps[0] if self._stamps else 0.0

    async def put(self, item: T) -> None:
        """Queue ``item``, waiting while the queue is full."""
        queued_at = time.monotonic()
        await self._queue.put((queued_at, item))
        self._stamps.append(queued_at)

    async def next_batch(self) -> list[T]:
        """The next batch: waits for a first item, then for more until full or the first item's linger ran out."""
        queued_at, first = await self._queue.get()
        batch = [first]
        self._taken()
        deadline = queued_at + self.linger_s
        while len(batch) < self.max_items:
            try:
                batch.append(self._queue.get_nowait()[1])
                self._taken()
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            getter = asyncio.ensure_future(self._queue.get())
            await asyncio.wait({getter}, timeout=remaining)
            if not getter.done():
                getter.cancel()
                await asyncio.wait({getter})  # an item it took while being cancelled is kept, not lost
            if getter.cancelled():
                break
            batch.append(getter.result()[1])
            self._taken()
        return batch

    def _taken(self) -> None:
        if self._stamps:
            self._stamps.popleft()
