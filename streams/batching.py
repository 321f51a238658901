"""Batches that fill while the previous one is written (the sink's intake).

Faust's ``take`` stops collecting while its caller handles a batch, then waits up to ``within`` for the next one
even when messages are already waiting: every cycle paid that wait on top of the ClickHouse write. Here the
agent only queues events; one writer takes them in arrival order. A batch closes when it holds ``max_items`` or
when its *first* event has waited ``linger_s`` (measured from when it was queued, so under load, when events
queued during the last write, the next batch starts at once), like a Kafka producer's linger.

A batch that is still growing when its linger runs out (a message arrived within the last ``quiet_s``) waits on,
up to ``max_wait_s`` from its first message or until it holds ``max_bytes`` (which never cuts off items already
queued: under load a batch takes up to ``max_items`` at once, as before): every ClickHouse insert has a large
fixed cost (a part in each table the statements feed, and the merges of those parts), so a steady trickle of small
POSTs written every 0.2 s cost ClickHouse about a third more CPU per statement than written every 0.5 s
(docs/benchmarks.md). An idle pipeline keeps the short linger: a lone message is written after ``linger_s``.

``limit_bytes`` caps a batch, queued items included, and the bytes waiting in the queue: counted in items only, a
lagging sink took 500 messages of 100 statements into each batch and held two of them decoded, and the worker's
RSS swung between 210 and 720 MB in the 30-minute soak (docs/benchmarks.md). The backlog belongs in Kafka.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LingerQueue(Generic[T]):
    """A bounded FIFO handing out batches of at most ``max_items``, each closed by size or by its first item's age.

    At most ``max_items`` (and, with ``limit_bytes``, about that many bytes) wait in the queue besides the batches
    its consumer holds, so memory stays bounded by a batch more than those; ``put`` waits while the queue is full
    (the consumer stops taking from Kafka). ``size`` gives an item's bytes for ``max_bytes`` and ``limit_bytes``; a
    batch past ``linger_s`` waits on while items keep coming, and closes once it holds ``limit_bytes`` (see the
    module). An item larger than ``limit_bytes`` still passes, alone.
    """

    def __init__(self, max_items: int, linger_s: float, *, max_wait_s: float = 0.0, quiet_s: float = 0.1,
                 max_bytes: int | None = None, limit_bytes: int | None = None,
                 size: Callable[[T], int] | None = None) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self.max_items = max_items
        self.linger_s = max(0.0, linger_s)
        self.max_wait_s = max(self.linger_s, max_wait_s)
        self.quiet_s = max(0.0, quiet_s)
        self.max_bytes = max_bytes
        self.limit_bytes = limit_bytes
        self.size = size
        self._queue: asyncio.Queue[tuple[float, T]] = asyncio.Queue(max_items)
        self._stamps: deque[float] = deque()  # when each queued item was queued, oldest first (FIFO like the queue)
        self._queued_bytes = 0
        self._room = asyncio.Event()  # set while the queued bytes are under limit_bytes
        self._room.set()

    def full(self) -> bool:
        """Whether ``put`` would wait."""
        return self._queue.full() or not self._room.is_set()

    @property
    def queued_bytes(self) -> int:
        """Bytes of the items waiting in the queue (``size``; 0 without it)."""
        return self._queued_bytes

    def oldest_wait_s(self) -> float:
        """How long the oldest queued item has waited (0 when none waits): how far the consumer is behind."""
        return time.monotonic() - self._stamps[0] if self._stamps else 0.0

    def behind(self, max_wait_s: float) -> bool:
        """Whether the consumer is behind: the queue is full (with ``limit_bytes`` the rest of a backlog waits
        upstream, so the oldest queued item is never old however large the backlog), or its oldest item waited
        longer than ``max_wait_s`` (the consumer is stuck)."""
        return self.full() or self.oldest_wait_s() > max_wait_s

    async def put(self, item: T) -> None:
        """Queue ``item``, waiting while the queue is full."""
        while not self._room.is_set():
            await self._room.wait()
        queued_at = time.monotonic()
        await self._queue.put((queued_at, item))
        self._stamps.append(queued_at)
        self._queued_bytes += self._bytes(item)
        self._sync_room()

    async def next_batch(self) -> list[T]:
        """The next batch: waits for a first item, then for more until full, or until the first item's linger ran
        out and no item came within ``quiet_s``, or its ``max_wait_s`` ran out."""
        queued_at, first = await self._queue.get()
        batch = [first]
        size = self._taken(first)
        linger_end, last_end = queued_at + self.linger_s, queued_at + self.max_wait_s
        latest = queued_at  # when the batch's newest item was queued
        while len(batch) < self.max_items and (self.limit_bytes is None or size < self.limit_bytes):
            try:
                latest, item = self._queue.get_nowait()  # what already waits always joins (up to max_items)
            except asyncio.QueueEmpty:
                now = time.monotonic()
                # Past its linger a batch waits only while it is still growing and smaller than max_bytes, and
                # never past max_wait_s.
                until = linger_end if now < linger_end else min(last_end, latest + self.quiet_s)
                if now >= linger_end and self.max_bytes is not None and size >= self.max_bytes:
                    break
                if until <= now:
                    break
                getter = asyncio.ensure_future(self._queue.get())
                await asyncio.wait({getter}, timeout=until - now)
                if not getter.done():
                    getter.cancel()
                    await asyncio.wait({getter})  # an item it took while being cancelled is kept, not lost
                if getter.cancelled():
                    continue  # the time to wait is decided again (the linger may have just run out)
                latest, item = getter.result()
            batch.append(item)
            size += self._taken(item)
        return batch

    def _bytes(self, item: T) -> int:
        return self.size(item) if self.size is not None else 0

    def _taken(self, item: T) -> int:
        """Account for ``item`` leaving the queue; its bytes."""
        if self._stamps:
            self._stamps.popleft()
        size = self._bytes(item)
        self._queued_bytes -= size
        self._sync_room()
        return size

    def _sync_room(self) -> None:
        """Open ``put`` while the queued bytes are under ``limit_bytes``, close it at the limit."""
        if self.limit_bytes is not None and self._queued_bytes >= self.limit_bytes:
            self._room.clear()
        else:
            self._room.set()
