"""Read-your-writes and ``X-Experience-API-Consistent-Through``.

The sink records, per partition, the last offset whose statements are in ClickHouse. A GET waits
(bounded) until that has passed every offset this process was acknowledged for.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.util.timeparse import format_timestamp
from lrs.service import metrics
from lrs.service.publisher import Publisher


class Consistency:
    """Tracks how far the sink has got relative to what this process produced."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse, publisher: Publisher) -> None:
        self.settings = settings
        self.clickhouse = clickhouse
        self.publisher = publisher
        self._consistent_through = datetime.now(UTC)

    def _sink_offsets(self) -> dict[int, int]:
        rows = self.clickhouse.run("sink_offsets", {"topic": self.settings.statements_topic})
        return {int(partition): int(offset) for partition, offset, _ in rows}

    def caught_up(self) -> bool:
        """True once the sink has passed every offset this process produced."""
        produced = self.publisher.produced_offsets()
        if not produced:
            return True
        done = self._sink_offsets()
        return all(done.get(p, -1) >= o for p, o in produced.items())

    async def wait(self) -> str:
        """Wait until caught up or the bound expires; return the Consistent-Through timestamp."""
        start = time.monotonic()
        checked_at = datetime.now(UTC)
        delay = 0.005
        while True:
            caught = await asyncio.to_thread(self.caught_up)
            if caught:
                # Everything this process acknowledged before `checked_at` is now readable.
                self._consistent_through = max(self._consistent_through, checked_at)
                break
            if time.monotonic() - start >= self.settings.consistency_wait_s:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
            checked_at = datetime.now(UTC)
        metrics.CONSISTENCY_WAIT.observe(time.monotonic() - start)
        return format_timestamp(self._consistent_through)

    def header_value(self) -> str:
        """The last Consistent-Through value established (for responses that do not wait)."""
        return format_timestamp(self._consistent_through)
