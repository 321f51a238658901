"""Which versions the sink's conflict checks read: the recent ones for statements the LRS checked, else all.

The checks' results are tested against real ClickHouse in tests/integration/test_statement_conflicts.py; here, which
query each row goes to and from when, with a ClickHouse that records the queries.
"""

from __future__ import annotations

import time
from typing import Any

from lrs.core.config import Settings
from streams.conflicts import ConflictGuard, forget_old_versions
from streams.rows import COL

SETTINGS = Settings(conflict_margin_s=300, recent_versions_keep_s=21600)


class RecordingClickHouse:
    """Answers every lookup with nothing stored; keeps the queries."""

    def __init__(self, slots: list[int] | None = None) -> None:
        self.queries: list[tuple[str, dict[str, Any]]] = []
        self.slots = slots or []

    def run_in_chunks(self, name: str, params: dict[str, Any]) -> list[tuple]:
        self.queries.append((name, params))
        return []

    def run(self, name: str, params: dict[str, Any] | None = None) -> list[tuple]:
        self.queries.append((name, params or {}))
        return [(s,) for s in self.slots] if name == "statement_versions_recent_old_partitions" else []


def _row(tenant: str, sid: str, stored_us: int) -> list[Any]:
    row: list[Any] = [""] * (max(COL.values()) + 1)
    row[COL["tenant"]], row[COL["statement_id"]], row[COL["stored_us"]] = tenant, sid, stored_us
    row[COL["statement"]] = "{}"
    return row


def test_checked_rows_read_the_versions_since_their_stored_time_less_the_margin() -> None:
    clickhouse = RecordingClickHouse()
    guard = ConflictGuard(clickhouse, None, SETTINGS)  # type: ignore[arg-type]
    now_us = int(time.time() * 1_000_000)
    rows = [_row("t", "a", now_us - 2_000_000), _row("t", "b", now_us), _row("t", "c", now_us)]
    admitted = guard.admit(rows, checked={("t", "a"), ("t", "b")})
    assert admitted == rows  # nothing stored
    since = (now_us - 2_000_000 - 300_000_000) // 1_000_000
    assert clickhouse.queries == [("stored_statements_for_ids", {"tenant": "t", "ids": ["c"]}),
                                  ("stored_statements_for_ids_since", {"tenant": "t", "ids": ["a", "b"],
                                                                       "since": since})]
    clickhouse.queries.clear()
    guard.settle()  # a race or a crashed attempt inserted after the statements were stored: all three, recently
    assert clickhouse.queries == [("statement_versions_for_ids", {"tenant": "t", "ids": ["a", "b", "c"],
                                                                  "since": since})]


def test_rows_stored_before_what_the_recent_versions_keep_are_checked_against_the_whole_history() -> None:
    clickhouse = RecordingClickHouse()
    guard = ConflictGuard(clickhouse, None, SETTINGS)  # type: ignore[arg-type]
    old_us = int((time.time() - 21600 + 200) * 1_000_000)  # within the kept time, but not with the margin
    guard.admit([_row("t", "a", old_us)], checked={("t", "a")})
    guard.settle()
    assert [name for name, _ in clickhouse.queries] == ["stored_statements_for_ids", "statement_versions_for_ids_all"]


def test_old_slots_are_dropped_whole() -> None:
    clickhouse = RecordingClickHouse(slots=[100, 101])
    assert forget_old_versions(clickhouse, SETTINGS, now_s=600 * 200 + 21600) == 2  # type: ignore[arg-type]
    assert clickhouse.queries == [("statement_versions_recent_old_partitions", {"before": 200}),
                                  ("statement_versions_recent_drop_partition", {"slot": 100}),
                                  ("statement_versions_recent_drop_partition", {"slot": 101})]
