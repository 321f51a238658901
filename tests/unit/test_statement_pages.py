"""Page planning of GET /xapi/statements (lrs/service/statements/page.py) against a fake store: the windows a page
is looked for in, their widening, the driving filter, the merge with StatementRefs, the hours cache."""

from __future__ import annotations

from typing import Any

from lrs.service.statements import page
from lrs.service.statements.page import HOUR_US, HoursCache, bounds, driver, page_ids
from lrs.service.statements.query import parse_query

NOW_US = 1_000 * HOUR_US


def _query(**params: str):
    q = parse_query({"limit": "2", **params}, tenant="t", client_key="", version="1.0.3")
    q.snapshot_us = NOW_US
    return q


class FakeStore:
    """Rows ``(id, stored_us)`` of one tenant; answers the page queries by their window like ClickHouse would."""

    def __init__(self, stored: list[int], hidden: tuple[str, ...] = ()) -> None:
        self.rows = [(f"s{i:03d}", us) for i, us in enumerate(stored)]
        self.hidden = hidden  # counted in the hours but not listed (voided, say)
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run(self, name: str, params: dict[str, Any]) -> list[tuple]:
        self.calls.append((name, params))
        if name == "statement_key_hours":
            hours: dict[int, int] = {}
            for _, us in self.rows:
                hours[us // HOUR_US] = hours.get(us // HOUR_US, 0) + 1
            return sorted(hours.items())
        inside = [r for r in self.rows if params["lo_us"] <= r[1] <= params["hi_us"] and r[0] not in self.hidden]
        ascending = name.endswith("_asc")
        return sorted(inside, key=lambda r: (r[1], r[0]), reverse=not ascending)[: params["limit"]]


def test_bounds_fold_since_until_snapshot_and_position() -> None:
    q = _query(since="1970-01-01T00:00:01Z", until="1970-01-02T00:00:00Z")
    assert bounds(q) == (1_000_001, 86_400_000_000)
    after = q.after(5_000_000, "x")
    assert bounds(after) == (1_000_001, 5_000_000)
    asc = _query(ascending="true").after(7, "x")
    assert bounds(asc)[0] == 7


def test_the_most_selective_filter_drives() -> None:
    agent = '{"mbox":"mailto:a@example.com"}'
    reg = "0b0b0b0b-0000-4000-8000-000000000000"
    assert driver(_query(verb="v", agent=agent))[:2] == (page.KIND_AGENT, "mbox:mailto:a@example.com")
    assert driver(_query(verb="v", agent=agent, registration=reg))[0] == page.KIND_REGISTRATION
    assert driver(_query(verb="v", activity="a"))[0] == page.KIND_ACTIVITY
    assert driver(_query(agent=agent, related_agents="true"))[2] == 0  # any related agent, not only the actor
    assert driver(_query(agent=agent))[2] == 1


def test_a_dense_tenant_is_read_in_a_narrow_window() -> None:
    store = FakeStore([NOW_US - i * 60_000_000 for i in range(600)])  # one a minute over 10 hours
    page.HOURS = HoursCache()
    got = page_ids(store, _query())
    assert got == [("s000", NOW_US), ("s001", NOW_US - 60_000_000), ("s002", NOW_US - 120_000_000)]
    reads = [p for name, p in store.calls if name != "statement_key_hours"]
    assert len(reads) == 1 and reads[0]["lo_us"] >= NOW_US - 2 * HOUR_US  # one hour or two, not ten


def test_a_short_window_is_widened_until_the_page_is_full_or_the_range_is_read() -> None:
    # The counts say the last hour holds a page, but one of its statements is not listed (voided).
    store = FakeStore([NOW_US - 10, NOW_US - 20, NOW_US - 30, NOW_US - 5 * HOUR_US], hidden=("s001",))
    page.HOURS = HoursCache()
    assert [r[0] for r in page_ids(store, _query())] == ["s000", "s002", "s003"]
    windows = [(p["lo_us"], p["hi_us"]) for name, p in store.calls if name != "statement_key_hours"]
    assert len(windows) >= 2 and windows[-1][0] < windows[0][0]


def test_ascending_pages_start_at_the_oldest_hour() -> None:
    store = FakeStore([HOUR_US * h for h in range(1, 500)])
    page.HOURS = HoursCache()
    assert [r[1] for r in page_ids(store, _query(ascending="true"))] == [HOUR_US, 2 * HOUR_US, 3 * HOUR_US]
    read = [p for name, p in store.calls if name != "statement_key_hours"][0]
    assert read["hi_us"] < 10 * HOUR_US


def test_filtered_rows_and_statement_refs_are_merged_in_order_once() -> None:
    assert page._merged([("b", 5), ("a", 5), ("c", 9), ("b", 5)], False, 3) == [("c", 9), ("b", 5), ("a", 5)]
    assert page._merged([("b", 5), ("a", 5), ("c", 9)], True, 2) == [("a", 5), ("b", 5)]


def test_hours_are_cached_per_value_for_a_few_seconds() -> None:
    store = FakeStore([NOW_US])
    cache = HoursCache(ttl_s=60)
    assert cache.get(store, "t", 0, "") == cache.get(store, "t", 0, "")
    assert cache.get(store, "t", 2, "v") is not None
    assert [name for name, _ in store.calls] == ["statement_key_hours"] * 2
    assert HoursCache(ttl_s=0).get(store, "t", 0, "") is not None and len(store.calls) == 3


class TwoFilterStore(FakeStore):
    """Every row has activity A; one row in four has verb V. Hours per kind: all (0), verb (2), activity (3)."""

    def run(self, name: str, params: dict[str, Any]) -> list[tuple]:
        self.calls.append((name, params))
        matching = [r for i, r in enumerate(self.rows) if i % 4 == 0]
        if name == "statement_key_hours":
            rows = matching if params["kind"] == page.KIND_VERB else self.rows
            hours: dict[int, int] = {}
            for _, us in rows:
                hours[us // HOUR_US] = hours.get(us // HOUR_US, 0) + 1
            return sorted(hours.items())
        inside = [r for r in matching if params["lo_us"] <= r[1] <= params["hi_us"]]
        return sorted(inside, key=lambda r: (r[1], r[0]), reverse=True)[: params["limit"]]


def test_a_second_filter_widens_the_first_window_by_its_estimated_share() -> None:
    # Ten rows an hour over 100 hours; the verb keeps one in four, so a page of 3 needs about 12 rows of A.
    store = TwoFilterStore([NOW_US - i * 360_000_000 for i in range(1000)])
    page.HOURS = HoursCache()
    got = page_ids(store, _query(activity="https://example.com/a", verb="https://example.com/v"))
    assert [r[0] for r in got] == ["s000", "s004", "s008"]
    reads = [p for name, p in store.calls if name != "statement_key_hours"]
    assert len(reads) == 1  # one read: the window was sized for the verb's share, not widened after a short read
    assert reads[0]["lo_us"] >= NOW_US - 3 * HOUR_US  # and no wider than a few hours
    page.HOURS = HoursCache()
    # Without the verb, the same activity needs a window of just one page.
    assert page._expected(store, _query(activity="https://example.com/a"), page.KIND_ACTIVITY, 3, 0, NOW_US) == 3
