"""Ids this process published recently, so conflict checks know when ClickHouse may lag behind.

Checking every request against ClickHouse after waiting for the sink would tie ingest speed to sink
latency; instead a request waits only when it names an id this process has just published.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable


class RecentIds:
    """A bounded, thread-safe set of ``(tenant, statement id)`` in publication order."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._ids: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, tenant: str, ids: Iterable[str]) -> None:
        """Remember ids just acknowledged by the broker."""
        with self._lock:
            for sid in ids:
                self._ids[(tenant, sid)] = None
            while len(self._ids) > self.capacity:
                self._ids.popitem(last=False)

    def any_of(self, tenant: str, ids: Iterable[str]) -> bool:
        """True if any id was published recently by this process."""
        with self._lock:
            return any((tenant, sid) in self._ids for sid in ids)
