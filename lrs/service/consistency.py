"""Read-your-writes and ``X-Experience-API-Consistent-Through``, scoped to the reader's tenant.

The sink records, per partition, the last offset whose statements are in ClickHouse. A GET waits (bounded)
until that has passed every offset acknowledged for its own tenant's statements on this host, not for every
tenant's: while another tenant ingests at full speed, a tenant that wrote nothing recently does not wait at
all, and one that did waits only until the sink passes its own last offsets.
A tenant with nothing outstanding costs no query: the last sink offsets read are kept, and ClickHouse is
asked only when the tenant produced past them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime

from lrs.core.config import Settings
from lrs.core.retry import apoll_until
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.util.timeparse import format_timestamp
from lrs.service import metrics
from lrs.service.publisher import Publisher

TENANTS_KEPT = 10_000  # Consistent-Through values remembered (least recently used dropped)


class Consistency:
    """Tracks how far the sink has got relative to what each tenant produced through this host."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse, publisher: Publisher) -> None:
        self.settings = settings
        self.clickhouse = clickhouse
        self.publisher = publisher
        self._started = datetime.now(UTC)
        self._through: OrderedDict[str, datetime] = OrderedDict()
        self._sink_seen: dict[int, int] = {}  # the sink offsets last read (they only grow, bar a broker reset)
        self._lock = threading.Lock()

    def _sink_offsets(self) -> dict[int, int]:
        rows = self.clickhouse.run("sink_offsets", {"topic": self.settings.statements_topic})
        done = {int(partition): int(offset) for partition, offset, _ in rows}
        self._sink_seen = done
        return done

    def caught_up(self, produced: dict[int, int]) -> bool:
        """True once the sink has passed every offset of ``produced`` (asks ClickHouse only if needed)."""
        return _passed(produced, self._sink_seen) or _passed(produced, self._sink_offsets())

    async def wait(self, tenant: str) -> str:
        """Wait until ``tenant`` is caught up or the bound expires; return its Consistent-Through timestamp."""
        start = time.monotonic()
        checked_at = datetime.now(UTC)
        # What was acknowledged for this tenant before the GET: later writes need not be waited for.
        produced = self.publisher.produced_offsets(tenant)

        async def caught_up() -> bool:
            # From memory when possible: no ClickHouse round trip, no thread.
            return _passed(produced, self._sink_seen) or await asyncio.to_thread(self.caught_up, produced)

        # Jittered polls, so the GETs of many clients waiting on one sink do not ask ClickHouse in step.
        if await apoll_until(caught_up, initial_s=0.005, max_s=0.1, within_s=self.settings.consistency_wait_s):
            # Everything acknowledged for this tenant before `checked_at` (so in `produced`) is now readable.
            self._advance(tenant, checked_at)
        metrics.CONSISTENCY_WAIT.observe(time.monotonic() - start)
        return self.header_value(tenant)

    def _advance(self, tenant: str, at: datetime) -> None:
        with self._lock:
            if at > self._through.get(tenant, self._started):
                self._through[tenant] = at
            if tenant in self._through:
                self._through.move_to_end(tenant)
            while len(self._through) > TENANTS_KEPT:
                self._through.popitem(last=False)

    def header_value(self, tenant: str | None = None) -> str:
        """The last Consistent-Through value established for ``tenant`` (for responses that do not wait)."""
        with self._lock:
            through = self._through.get(tenant, self._started) if tenant is not None else self._started
        return format_timestamp(through)


def _passed(produced: dict[int, int], done: dict[int, int]) -> bool:
    return all(done.get(p, -1) >= o for p, o in produced.items())
