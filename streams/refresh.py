"""Analytics refresh: micro-batch recomputation of dirty (tenant, course) slices, driven by the stream.

1. The sink, after a batch is in ClickHouse and before it acks, sends one marker per affected slice to
   ``analytics_dirty_topic`` (the courses of the batch's statements and of the targets its voids hit), keyed
   ``tenant|course`` so that exactly one worker of the group owns each slice.
2. The ``analytics-refresh`` agent collects markers for ``analytics_refresh_s`` (debounce), recomputes each
   distinct slice from the raw table with the batch queries (``INSERT INTO <table>_data SELECT ...`` under a
   new version), publishes at-risk events, then records the version in ``analytics_slices`` (the atomic swap:
   the public views show only recorded versions), and only then acks the markers. A crash anywhere before the
   ack redelivers the markers and the slice is recomputed again: idempotent, since a recompute is a pure
   function of the raw rows.
3. The tenant watermark moves for all of a tenant's courses: after each recompute, the tenant's slices computed
   at another clock are re-marked (event time). A timer in the worker owning partition 0 of the dirty topic does
   the same over all tenants as a safety net, and drives wall-clock mode.

Convergence: the last marker of a slice is sent after the last write to its raw rows, and its recompute starts
after that marker was read, so the highest version of every slice reads the final raw state; the tables then
equal the batch queries over ``statements`` exactly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse, bind
from streams import cohorts, dropoff, engagement, metrics
from streams.analytics import (
    US,
    Slice,
    SliceTable,
    clock_us,
    marker_key,
    marker_value,
    now_us,
    parse_marker,
    query_params,
)
from streams.mapping_rules import MappingRulesStore
from streams.ownership import owns_first_partition

log = logging.getLogger(__name__)

ALL_TABLES: tuple[SliceTable, ...] = (*engagement.TABLES, *dropoff.TABLES, *cohorts.TABLES)



@dataclass
class Recomputed:
    """A slice written under ``version`` but not yet published in ``analytics_slices``."""

    tenant: str
    course_id: str
    version: int
    previous: int
    clock_us: int
    events: list[dict[str, Any]] = field(default_factory=list)


class SliceRefresher:
    """Synchronous ClickHouse work of the refresh (runs in an executor thread)."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse | None = None,
                 rules: MappingRulesStore | None = None) -> None:
        self.settings = settings
        self.clickhouse = clickhouse or ClickHouse(settings, size=2)
        # The sink's store when given, so both map a batch with the same per-tenant rules.
        self.rules = rules or MappingRulesStore(settings, self.clickhouse)

    def dirty_slices(self, touched: dict[str, tuple[set[str], set[str]]]) -> set[Slice]:
        """Slices touched by a sink batch (``BatchResult.touched``): its courses and those of voided targets."""
        slices: set[Slice] = set()
        for tenant, (courses, targets) in touched.items():
            slices.update((tenant, course) for course in courses)
            if targets:
                # A voiding statement has no course; its target's does. A target not stored yet marks its own
                # course when it arrives (the sink voids it then).
                found = self.clickhouse.run_in_chunks("analytics_target_courses",
                                                      {"tenant": tenant, "ids": sorted(targets)})
                slices.update((tenant, course) for (course,) in found)
        return slices

    def recompute(self, tenant: str, course_id: str) -> Recomputed:
        """Write every table of the slice under a new version; return the at-risk events to publish."""
        clock = clock_us(self.settings, self.clickhouse, tenant)
        previous = int(self.clickhouse.run("analytics_slice_latest", {"tenant": tenant, "course_id": course_id})[0][0])
        # Version = recompute start time: the highest version read the newest raw state.
        version = max(now_us(), previous + 1)
        params = bind({**query_params(self.settings, tenant, [course_id], clock), "version": version})
        with self.clickhouse.client() as client:
            for table in ALL_TABLES:
                start = time.perf_counter()
                client.execute(table.insert_sql(), params)
                metrics.INSERT_LATENCY.labels(table=table.table).observe(time.perf_counter() - start)
        changes = self.clickhouse.run("analytics_status_changes", {
            "tenant": tenant, "course_id": course_id, "version": version, "previous": previous})
        detected = now_us()
        events = [dropoff.at_risk_event(tenant, course_id, change, clock=self.settings.analytics_clock,
                                        detected_us=detected) for change in changes]
        return Recomputed(tenant, course_id, version, previous, clock, events)

    def publish(self, recomputed: Recomputed) -> None:
        """The swap: from now on the public views show ``recomputed.version`` of the slice."""
        self.clickhouse.insert("analytics_slices_insert", [[
            recomputed.tenant, recomputed.course_id, recomputed.version, recomputed.clock_us, now_us()]])

    def refresh(self, tenant: str, course_id: str) -> Recomputed:
        """Recompute and publish one slice without Kafka (CLI backfill, tests); events are returned, not sent."""
        recomputed = self.recompute(tenant, course_id)
        self.publish(recomputed)
        return recomputed

    def lagging_slices(self, recomputed: Recomputed) -> list[Slice]:
        """Event time: the tenant's other slices computed at another clock than the one just read.

        The watermark moves for the whole tenant, and it moves only when the tenant's statements change, which
        always recomputes some slice of the tenant: re-marking the rest from there keeps every slice on the
        tenant's clock without scanning the raw table on a timer.
        """
        if self.settings.analytics_clock == "wall":
            return []  # every slice lags a moving wall clock; the timer handles that mode
        rows = self.clickhouse.run("analytics_tenant_lagging",
                                   {"tenant": recomputed.tenant, "clock_us": recomputed.clock_us})
        return [(recomputed.tenant, str(course)) for (course,) in rows]

    def cleanup(self, older_than_s: float) -> None:
        """Delete superseded versions older than ``older_than_s`` from every data table."""
        before = now_us() - int(older_than_s * US)
        with self.clickhouse.client() as client:
            for table in ALL_TABLES:
                client.execute(table.cleanup_sql(), {"before_us": before})

    def stale_slices(self) -> list[Slice]:
        """Slices whose statuses were computed at an older clock than the current one."""
        lateness_us = int(self.settings.analytics_lateness_s * US)
        if self.settings.analytics_clock == "wall":
            stale_before = now_us() - lateness_us - int(self.settings.analytics_wall_stale_s * US)
            rows = self.clickhouse.run("analytics_stale_slices_wall", {"stale_before_us": stale_before})
        else:
            rows = self.clickhouse.run("analytics_stale_slices", {"lateness_us": lateness_us})
        return [(str(t), str(c)) for t, c in rows]


async def retry_forever(action: Callable[[], Awaitable[Any]], what: str, max_backoff_s: float) -> Any:
    """Run ``action`` until it succeeds, with capped exponential back-off (like the sink)."""
    delay = 0.1
    while True:
        try:
            return await action()
        except Exception as exc:  # ClickHouse or broker failure: the same work is retried, never dropped
            log.warning("%s failed (%s: %s); retrying in %.1fs", what, type(exc).__name__, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_backoff_s)


class DirtyMarker:
    """Sends slice markers from inside the worker (Faust producer), awaiting the broker's acknowledgement."""

    def __init__(self, topic: faust.TopicT, refresher: SliceRefresher, max_backoff_s: float) -> None:
        self.topic = topic
        self.refresher = refresher
        self.max_backoff_s = max_backoff_s

    async def send(self, slices: Iterable[Slice]) -> None:
        """Send one marker per slice and wait until the broker has them all."""
        # force=True: send now, not attached to the current event (attached sends wait for its ack).
        pending = [await self.topic.send(key=marker_key(t, c), value=marker_value(t, c), force=True)
                   for t, c in sorted(set(slices))]
        for future in pending:
            await future

    async def mark(self, touched: dict[str, tuple[set[str], set[str]]]) -> None:
        """Mark the slices a written sink batch touched; returns only once the markers are in Kafka."""
        loop = asyncio.get_running_loop()

        async def attempt() -> None:
            slices = await loop.run_in_executor(None, self.refresher.dirty_slices, touched)
            await self.send(slices)

        await retry_forever(attempt, "marking analytics slices dirty", self.max_backoff_s)


def refresh_pause(busy_s: float, share: float, max_pause_s: float) -> float:
    """Seconds to pause after a refresh round that took ``busy_s``, so rounds take at most ``share`` of the time."""
    return min(max_pause_s, busy_s * (1 / share - 1))


def attach_analytics(app: faust.App, settings: Settings, refresher: SliceRefresher | None = None) -> DirtyMarker:
    """Register the refresh agent and the clock timer on ``app``; return the marker the sink agent uses."""
    refresher = refresher or SliceRefresher(settings)
    dirty = app.topic(settings.analytics_dirty_topic, key_serializer="raw", value_serializer="raw")
    at_risk = app.topic(settings.analytics_at_risk_topic, key_serializer="raw", value_serializer="raw")
    marker = DirtyMarker(dirty, refresher, settings.sink_retry_max_s)

    async def refresh_slice(tenant: str, course_id: str) -> None:
        loop = asyncio.get_running_loop()
        recomputed = await loop.run_in_executor(None, refresher.recompute, tenant, course_id)
        # Events before the swap: a crash in between replays them with the same event_id (at least once);
        # swapping first could lose them, since the next recompute compares with the swapped version.
        pending = [await at_risk.send(key=dropoff.event_key(e), value=orjson.dumps(e), force=True)
                   for e in recomputed.events]
        for future in pending:
            await future
        await loop.run_in_executor(None, refresher.publish, recomputed)
        await marker.send(await loop.run_in_executor(None, refresher.lagging_slices, recomputed))

    @app.agent(dirty, name="analytics-refresh")
    async def refresh(stream: faust.StreamT) -> None:
        # The take window is the debounce: many markers of one slice within it cost one recompute.
        async for events in stream.noack_take(10_000, within=settings.analytics_refresh_s):
            started = time.perf_counter()
            slices = sorted({s for e in events if (s := parse_marker(e.message.value)) is not None})
            for tenant, course_id in slices:
                await retry_forever(lambda t=tenant, c=course_id: refresh_slice(t, c),
                                    f"recomputing analytics slice {tenant}|{course_id}", settings.sink_retry_max_s)
            metrics.EVENTS_PROCESSED.labels(processor="analytics-refresh").inc(len(events))
            for event in events:
                await stream.ack(event)
            # Under sustained load every slice is dirty again at once, and a recompute re-reads its whole
            # slice: without a pause the refresh would take as much of ClickHouse and the worker as it can
            # get, away from ingest. Markers arriving meanwhile wait in the stream and cost one recompute.
            await asyncio.sleep(refresh_pause(time.perf_counter() - started, settings.analytics_busy_share,
                                              settings.analytics_max_pause_s))

    @app.timer(settings.analytics_tick_s)
    async def tick() -> None:
        # One worker is enough (recomputes are idempotent, so a second would only waste work).
        if not owns_first_partition(app, settings.analytics_dirty_topic):
            return
        loop = asyncio.get_running_loop()
        try:
            stale = await loop.run_in_executor(None, refresher.stale_slices)
            await marker.send(stale)
        except Exception as exc:  # the next tick tries again
            log.warning("analytics clock tick failed (%s: %s)", type(exc).__name__, exc)

    if settings.analytics_cleanup_s > 0:
        @app.timer(settings.analytics_cleanup_s)
        async def cleanup() -> None:
            if not owns_first_partition(app, settings.analytics_dirty_topic):
                return
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, refresher.cleanup, settings.analytics_cleanup_s)
            except Exception as exc:  # garbage only costs disk; the next run tries again
                log.warning("analytics cleanup failed (%s: %s)", type(exc).__name__, exc)

    return marker
