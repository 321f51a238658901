"""The per-learner analytics row (streams/learners.py): sessions, gaps per day and hour, visits, flags, clock."""

from __future__ import annotations

from dataclasses import astuple

from streams.learners import (
    COMPLETED,
    PASSED,
    STATE_COLUMNS,
    Rules,
    aggregate,
    aggregated_rows,
    learner_row,
    monday_s,
    utc_day_s,
)

RULES = Rules(cap_us=1_800_000_000, cert_verbs=frozenset({"urn:earned"}), cert_types=frozenset({"urn:cert"}))
T0 = 1_790_000_000_000_000  # 2026-09-21T14:13:20Z, a Monday
DAY0 = 1_789_948_800  # 2026-09-21T00:00:00Z
MIN = 60_000_000


def _st(
    t: int,
    verb: str = "urn:exp",
    obj: str = "urn:m1",
    module: str = "urn:m1",
    stored: int | None = None,
    success: int | None = None,
    completion: int | None = None,
    types: tuple[str, ...] = (),
) -> tuple:
    return (t, t if stored is None else stored, verb, obj, module, success, completion, list(types))


def _row(statements: list[tuple], course: str = "urn:c") -> dict:
    return dict(zip(STATE_COLUMNS, learner_row("t", course, "a", statements, RULES, 9), strict=True))


def test_sessions_and_gaps_follow_the_cap_and_land_where_the_gap_ends() -> None:
    # 10 min, 10 min, then a 2 h gap (new session), then 5 min; order of arrival does not matter
    times = [T0, T0 + 10 * MIN, T0 + 20 * MIN, T0 + 140 * MIN, T0 + 145 * MIN]
    row = _row([_st(t) for t in reversed(times)])
    assert (row["statements"], row["sessions"], row["tot_us"]) == (5, 2, 25 * MIN)
    assert (row["first_seen_us"], row["last_seen_us"]) == (T0, T0 + 145 * MIN)
    assert row["day_keys_s"] == [DAY0] and row["day_statements"] == [5]
    assert row["day_starts"] == [2] and row["day_gap_us"] == [25 * MIN]
    hours = [(T0 // 3_600_000_000 + k) * 3600 for k in (0, 2)]
    assert row["hour_keys_s"] == hours and row["hour_statements"] == [3, 2] and row["hour_starts"] == [1, 1]
    assert row["hour_gap_us"] == [20 * MIN, 5 * MIN]
    assert row["weeks_s"] == [DAY0] == [row["cohort_week_s"]]


def test_flags_visits_and_the_clock_capped_at_stored_time() -> None:
    future = T0 + 365 * 86_400_000_000
    row = _row(
        [
            _st(T0 + MIN, module="urn:m2", obj="urn:m2"),
            _st(T0, module="urn:m1"),
            _st(T0 + 3 * MIN, module="urn:m1"),
            _st(T0 + 4 * MIN, verb=COMPLETED, obj="urn:c", module=""),
            _st(T0 + 5 * MIN, verb=PASSED, obj="urn:other", module=""),
            _st(future, stored=T0 + 6 * MIN, module="", types=("urn:cert",)),
        ]
    )
    assert row["visit_modules"] == ["urn:m1", "urn:m2"] and row["visit_first_us"] == [T0, T0 + MIN]
    assert row["done_objects"] == ["urn:c"] and row["passed"] == 0 and row["certified"] == 1
    assert row["last_seen_us"] == future and row["clock_us"] == T0 + 6 * MIN  # dated next year, stored now
    assert _row([_st(T0, success=1, obj="urn:c")])["passed"] == 1
    assert _row([_st(T0, verb="urn:earned")])["certified"] == 1
    assert _row([_st(T0, types=("urn:other",))])["certified"] == 0


def test_learners_without_statements_get_tombstones() -> None:
    agg = aggregate("c", [_st(T0)], RULES)
    rows = aggregated_rows("t", "c", ["gone", "kept"], [("kept", *astuple(agg))], 3)
    assert [(r[2], r[3]) for r in rows] == [("gone", 0), ("kept", 1)]
    assert all(r[-1] == 3 for r in rows) and all(len(r) == len(STATE_COLUMNS) for r in rows)


def test_days_and_weeks_are_utc() -> None:
    assert utc_day_s(0) == 0 and utc_day_s(86_399_999_999) == 0 and utc_day_s(T0) == DAY0
    assert monday_s(DAY0 + 6 * 86_400) == DAY0 == monday_s(DAY0) and monday_s(0) == -3 * 86_400
