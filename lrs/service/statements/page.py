"""Read one page of a statement query: first the page's ids from narrow lookup rows, then only their JSON.

ClickHouse 18.16 cannot read a table in key order and stop early, so a query reads every row its primary-key
range covers. Each page is therefore looked for in a stored-time *window* below its upper bound (above its
lower bound when ascending), sized from ``statement_key_hours_by_month`` (statements per hour and filter
value) to hold about one page: once a window holds a full page, no statement outside it can belong on the page (they
are all older, or newer), and a window that turns out short (voided statements, other filters, counts of
redelivered rows) is widened, up to the query's whole range.

* Without agent/verb/activity/registration filters the ids come from ``statements_by_stored_month`` (ordered by
  stored time).
* With filters they come from ``statement_keys_by_month``, ordered by (tenant, kind, value, stored time): the range of
  the most selective filter value (registration, then agent, activity, verb), the other filters checked on
  the same rows or through their own ranges. StatementRefs whose target matches the filters come from a
  second query over the tenant's StatementRef rows and are merged in.

Then the JSON of just the page's rows is read from ``statement_json_by_month`` (256-row granules), by their
stored times.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from lrs.core.store.clickhouse import ClickHouse
from lrs.service.statements.query import StatementQuery

HOUR_US = 3_600_000_000
MIN_US, MAX_US = -(2**62), 2**62
KIND_ALL, KIND_AGENT, KIND_VERB, KIND_ACTIVITY, KIND_REGISTRATION = 0, 1, 2, 3, 4
GROWTH = 8  # how much more a short window is expected to hold next time


def read_page(clickhouse: ClickHouse, query: StatementQuery) -> list[tuple[str, str, int]]:
    """``(id, statement JSON, stored_us)`` of up to ``limit + 1`` statements, in the query's order."""
    found = page_ids(clickhouse, query)
    if not found:
        return []
    stored = [row[1] for row in found]
    rows = clickhouse.run("statements_page_rows", {"tenant": query.tenant, "from_us": min(stored), "to_us": max(stored),
                                                   "stored": sorted(set(stored)), "ids": [row[0] for row in found]})
    by_id = {row[0]: row for row in rows}
    # An id missing here was erased (GDPR) between the two reads: it is left out, like any erased statement.
    return [by_id[sid] for sid, _ in found if sid in by_id]


def bounds(query: StatementQuery) -> tuple[int, int]:
    """The inclusive stored-time range ``[lo, hi]`` the query's rows lie in (since, until, snapshot, position)."""
    lo = query.since_us + 1 if query.has_since else MIN_US  # `since` is exclusive, `until` inclusive
    hi = min(query.snapshot_us, query.until_us) if query.has_until else query.snapshot_us
    if query.has_after:  # the tie on after_us is settled by after_id in the SQL
        if query.ascending:
            lo = max(lo, query.after_us)
        else:
            hi = min(hi, query.after_us)
    return lo, hi


def driver(query: StatementQuery) -> tuple[int, str, int]:
    """``(kind, value, direct)`` of the lookup range a filtered query reads: its most selective filter."""
    if query.registration:
        return KIND_REGISTRATION, query.registration, 0
    if query.agent:
        return KIND_AGENT, query.agent, int(not query.related_agents)
    if query.activity:
        return KIND_ACTIVITY, query.activity, int(not query.related_activities)
    return KIND_VERB, query.verb, 0


def page_ids(clickhouse: ClickHouse, query: StatementQuery) -> list[tuple[str, int]]:
    """``(id, stored_us)`` of up to ``limit + 1`` statements of the page, in the query's order."""
    lo, hi = bounds(query)
    want = query.limit + 1
    if lo > hi:
        return []
    order = "asc" if query.ascending else "desc"
    base: dict[str, Any] = {"tenant": query.tenant, "has_after": query.has_after, "after_us": query.after_us,
                            "after_id": query.after_id, "client_key": query.client_key, "limit": want}
    if query.filtered():
        kind, key, direct = driver(query)
        base |= _filter_params(query, kind, key, direct)
        # Without a second agent or activity, the query without their (always executed) subqueries.
        one = "" if base["and_agent"] or base["and_activity"] else "_one"
        name = f"statement_keys_page{one}_{order}"
    else:
        kind, key = KIND_ALL, ""
        name = f"statements_stored_page_{order}"
    hours = HOURS.get(clickhouse, query.tenant, kind, key)
    expected = _expected(clickhouse, query, kind, want, lo, hi)
    while True:
        w_lo, w_hi = _window(hours, lo, hi, expected, query.ascending)
        rows = clickhouse.run(name, {**base, "lo_us": w_lo, "hi_us": w_hi})
        if query.filtered():  # the statements matching directly and the StatementRefs to them, merged
            rows = _merged(rows, query.ascending, want)
        if len(rows) >= want or (w_lo, w_hi) == (lo, hi):
            return [(row[0], row[1]) for row in rows]
        expected *= GROWTH


class HoursCache:
    """The named query ``statement_key_hours`` per (tenant, kind, key), kept a few seconds (thread-safe).

    The counts only size the first window: stale counts cost a wider or one more read, never a wrong page, so
    the ``more`` pages and repeats of a query within seconds skip that round trip.
    """

    def __init__(self, ttl_s: float = 10.0, capacity: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, int, str], tuple[float, list[tuple[int, int]]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, clickhouse: ClickHouse, tenant: str, kind: int, key: str) -> list[tuple[int, int]]:
        """The hours (ascending) with their statement counts."""
        name = (tenant, kind, key)
        now = time.monotonic()
        with self._lock:
            cached = self._entries.get(name)
            if cached is not None and now - cached[0] < self.ttl_s:
                return cached[1]
        hours = [(int(h), int(n)) for h, n in clickhouse.run("statement_key_hours",
                                                             {"tenant": tenant, "kind": kind, "key": key})]
        with self._lock:
            self._entries[name] = (now, hours)
            self._entries.move_to_end(name)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return hours


HOURS = HoursCache()


def _window(hours: list[tuple[int, int]], lo: int, hi: int, expected: int, ascending: bool) -> tuple[int, int]:
    """The narrowest whole-hour window at the page's end of ``[lo, hi]`` counted to hold ``expected`` rows."""
    total = 0
    for hour, count in (hours if ascending else reversed(hours)):
        if (hour + 1) * HOUR_US <= lo or hour * HOUR_US > hi:
            continue  # outside the query's range
        total += count
        if total >= expected:
            if ascending:
                return lo, min(hi, (hour + 1) * HOUR_US - 1)
            return max(lo, hour * HOUR_US), hi
    return lo, hi


def _expected(clickhouse: ClickHouse, query: StatementQuery, kind: int, want: int, lo: int, hi: int) -> int:
    """Rows of the driving range a window should hold to yield ``want`` rows: ``want`` over the estimated share of
    rows the other filters keep (their statements over the tenant's in ``[lo, hi]``, taken as independent).

    Without it, ``?activity=A&verb=V`` read a window of ``want`` rows of A, found too few with V and read again
    (each round trip costs more than the wider window's extra narrow rows).
    """
    others = [(k, v) for k, v in ((KIND_VERB, query.verb), (KIND_AGENT, query.agent), (KIND_ACTIVITY, query.activity))
              if v and k != kind]
    if not others:
        return want
    total = max(_count(HOURS.get(clickhouse, query.tenant, KIND_ALL, ""), lo, hi), 1)
    share = 1.0
    for other_kind, value in others:
        share *= min(_count(HOURS.get(clickhouse, query.tenant, other_kind, value), lo, hi) / total, 1.0)
    # A bit over the estimate, so that an estimate just short does not cost a second read; at most GROWTH^2 times.
    return int(want * min(1.25 / max(share, 1e-9), GROWTH * GROWTH))


def _count(hours: list[tuple[int, int]], lo: int, hi: int) -> int:
    """Statements counted in the hours overlapping ``[lo, hi]``."""
    return sum(count for hour, count in hours if (hour + 1) * HOUR_US > lo and hour * HOUR_US <= hi)


def _filter_params(query: StatementQuery, kind: int, key: str, direct: int) -> dict[str, Any]:
    return {
        "kind": kind, "key": key, "direct": direct,
        # The filters other than the driving one, checked on its rows (registration always drives when given).
        "and_verb": query.verb if kind != KIND_VERB else "",
        "and_agent": query.agent if kind != KIND_AGENT else "",
        "and_activity": query.activity if kind != KIND_ACTIVITY else "",
        # All filters, for the targets of StatementRefs.
        "agent": query.agent, "related_agents": query.related_agents, "verb": query.verb,
        "activity": query.activity, "related_activities": query.related_activities,
        "registration": query.registration,
    }


def _merged(rows: list[tuple], ascending: bool, want: int) -> list[tuple]:
    unique = {row[0]: (row[0], row[1]) for row in rows}
    return sorted(unique.values(), key=lambda row: (row[1], row[0]), reverse=not ascending)[:want]
