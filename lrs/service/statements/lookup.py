"""Which statement ids are already stored: the conflict and voiding check of a POST, shared by concurrent requests.

One ClickHouse query per request would tie small-POST throughput to ClickHouse's query rate (each query
costs a round trip, a pooled connection's ping and a FINAL read). Instead, requests that arrive while a
lookup is running wait for the next one, which asks for all their ids at once: under load, one query
serves tens of requests, and an idle LRS still asks at once. A lookup of a few ids sends their 64-bit keys
(``lrs.core.store.keys``), which ClickHouse checks with less work than splitting and hashing the ids itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

from lrs.core.store.clickhouse import ClickHouse
from lrs.core.store.keys import statement_keys

Stored = dict[str, tuple[Any, ...]]
# Up to this many ids a lookup sends their keys (stored_keys); more go as ids in an external table (stored_ids),
# which costs ClickHouse less from about 100 on (docs/benchmarks.md).
SMALL_LOOKUP = 64


class StoredLookup:
    """Finds stored statements by id for one process, coalescing concurrent requests per tenant."""

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse
        self._waiting: dict[str, list[tuple[list[str], asyncio.Future[Stored]]]] = {}
        self._runner: asyncio.Task[None] | None = None

    async def find(self, tenant: str, ids: list[str]) -> Stored:
        """``{id: (statement JSON, voided, voiding_target)}`` for those of ``ids`` stored for ``tenant``.

        Raises what the query raised (``STORE_ERRORS`` when ClickHouse is unavailable).
        """
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(tenant, []).append((ids, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        # Each round takes everything that queued up while the previous round's queries ran.
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            await asyncio.gather(*(self._answer(tenant, waiters) for tenant, waiters in batch.items()))

    async def _answer(self, tenant: str, waiters: list[tuple[list[str], asyncio.Future[Stored]]]) -> None:
        try:
            found = await self._stored(tenant, sorted({sid for wanted, _ in waiters for sid in wanted}))
        except Exception as exc:  # every waiter sees the failure and decides (e.g. skip the check)
            for _, future in waiters:
                if not future.done():
                    future.set_exception(exc)
            return
        for wanted, future in waiters:
            if not future.done():  # a waiter whose client went away is cancelled
                future.set_result({sid: found[sid] for sid in wanted if sid in found})

    async def _stored(self, tenant: str, ids: list[str]) -> Stored:
        # First the narrow id table; the statements themselves only for ids found there (usually none).
        known = await asyncio.to_thread(self._maybe_stored, tenant, ids)
        if not known:  # no second hop to a thread for nothing
            return {}
        rows = await asyncio.to_thread(self.clickhouse.run_in_chunks, "statements_by_ids",
                                       {"tenant": tenant, "ids": sorted(known)})
        return {row[0]: tuple(row[1:]) for row in rows}

    def _maybe_stored(self, tenant: str, ids: list[str]) -> set[str]:
        """Those of ``ids`` whose key ``statement_id_keys`` holds: maybe stored (a key may be another id's)."""
        if len(ids) > SMALL_LOOKUP:
            return {row[0] for row in self.clickhouse.run_in_chunks("stored_ids", {"tenant": tenant, "ids": ids})}
        keys = statement_keys(tenant, ids)
        return {sid for (key,) in self.clickhouse.run("stored_keys", {"keys": list(keys)}) for sid in keys[key]}
