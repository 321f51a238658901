"""The course in memory: its sums after any sequence of learner changes equal the sums of a fresh load."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.course_state import CourseState, Thresholds
from streams.learners import Rules, learner_row, tombstone

COURSE = "https://example.com/course"
MODULES = [f"{COURSE}/m{i}" for i in range(1, 5)]
RULES = Rules(cap_us=1_800_000_000, cert_verbs=frozenset({"https://example.com/earned"}), cert_types=frozenset())
THRESHOLDS = Thresholds(at_risk_us=3 * 86_400_000_000, dropped_us=7 * 86_400_000_000, active_us=7 * 86_400_000_000)
DAY_US = 86_400_000_000


def _row(actor: str, seed: int, version: int) -> list:
    rng = random.Random(seed)
    statements = []
    for _ in range(rng.randint(1, 12)):
        t = 1_790_000_000_000_000 + rng.randint(0, 40) * DAY_US + rng.randint(0, 86_399) * 1_000_000
        verb = rng.choice(["https://example.com/experienced", "http://adlnet.gov/expapi/verbs/completed"])
        obj = rng.choice([COURSE, *MODULES])
        statements.append((t, t + 1000, verb, obj, obj if obj != COURSE else "", None, None, []))
    return learner_row("t", COURSE, actor, statements, RULES, version)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 10_000), st.booleans(), st.integers(-3, 50)),
                min_size=1, max_size=40))
def test_incremental_course_equals_a_fresh_load(changes: list[tuple[int, int, bool, int]]) -> None:
    """Adding, replacing and removing learners one at a time, derived and published at clocks that move forwards
    and backwards, gives what loading the final rows and deriving once gives: the tables, the statuses, and the
    learner rows (each written when its learner or its status changed, and kept otherwise)."""
    live = CourseState("t", COURSE)
    final: dict[str, list] = {}
    rows_now: dict[str, tuple] = {}  # what learner_course holds: rows written from memory, the others copied
    days_now: dict = {}  # what engagement_daily_rows and engagement_hourly_rows hold: the changed keys written
    hours_now: dict = {}
    cohorts_now: dict = {}  # cohort_retention_rows, the same way
    clock = 0
    for version, (who, seed, remove, day) in enumerate(changes, 1):
        actor = f"mbox:mailto:l{who}@example.com"
        row = tombstone("t", COURSE, actor, version) if remove else _row(actor, seed, version)
        live.apply([row])
        if remove:
            final.pop(actor, None)
        else:
            final[actor] = row
        if day % 3 == 0:  # derive and publish now and then, at a clock that may move back
            clock = 1_790_000_000_000_000 + day * DAY_US
            derived = live.derive(clock, [], THRESHOLDS)
            rows_now = _written(rows_now, derived)
            days_now, hours_now = _by_key(days_now, derived.daily, derived), _by_key(hours_now, derived.hourly, derived)
            cohorts_now = _by_key(cohorts_now, derived.cohorts, derived, width=2)
            live.committed(derived, version)
    fresh = CourseState.load("t", COURSE, list(final.values()))
    clock += 2 * DAY_US
    derived = live.derive(clock, [], THRESHOLDS)
    rows_now = _written(rows_now, derived)
    days_now, hours_now = _by_key(days_now, derived.daily, derived), _by_key(hours_now, derived.hourly, derived)
    cohorts_now = _by_key(cohorts_now, derived.cohorts, derived, width=2)
    expected = fresh.derive(clock, [], THRESHOLDS)
    assert (derived.funnel, derived.summary) == (expected.funnel, expected.summary)
    assert cohorts_now == _by_key({}, expected.cohorts, expected, width=2)
    assert derived.cohort_last == expected.cohort_last
    assert derived.at_risk == expected.at_risk
    assert days_now == _by_key({}, expected.daily, expected) and hours_now == _by_key({}, expected.hourly, expected)
    assert all(r[-1] for r in expected.daily + expected.hourly + expected.cohorts)  # a fresh load: present rows only
    if derived.time_on_task is not None:
        assert derived.time_on_task == expected.time_on_task
    sums = ("days", "hours", "cohorts", "ranks", "reached", "time_bins", "clocks")
    assert [getattr(live, s) for s in sums] == [getattr(fresh, s) for s in sums]
    assert rows_now == {r[1]: tuple(r) for r in expected.learner_rows}
    assert sorted(live.learners) == sorted(final)
    assert live.clock_input() == fresh.clock_input() == (
        max((lr.clock_us for lr in fresh.learners.values()), default=0), len(final))


def _written(rows: dict[str, tuple], derived) -> dict[str, tuple]:
    """learner_course_rows after a derivation (the rows written replace the learner's; present = 0 removes it)."""
    out = {} if derived.full else dict(rows)
    for r in derived.learner_rows:
        if r[-1]:
            out[r[1]] = tuple(r)
        else:
            out.pop(r[1], None)
    return out


def _by_key(rows: dict, written: list[list], derived, width: int = 1) -> dict:
    """A table kept per key (the ``width`` columns after the course) after a derivation wrote ``written`` (a full
    one rewrites the course)."""
    out = {} if derived.full else dict(rows)
    for r in written:
        if r[-1]:
            out[tuple(r[1:1 + width])] = tuple(r)
        else:
            out.pop(tuple(r[1:1 + width]), None)
    return out


def test_a_change_writes_only_the_days_and_hours_it_touched() -> None:
    """A learner who comes back on one day rewrites that day and its hours, not the course's history."""
    t = 1_790_000_000_000_000
    visit = "https://example.com/experienced"
    rows = [learner_row("t", COURSE, f"mbox:mailto:l{i}@example.com",
                        [(t + d * DAY_US + i * 3_600_000_000, t, visit, MODULES[0], MODULES[0], None, None, [])
                         for d in range(30)], RULES, 1) for i in range(3)]
    state = CourseState.load("t", COURSE, rows)
    first = state.derive(t + 30 * DAY_US, [], THRESHOLDS)
    assert (len(first.daily), len(first.hourly)) == (30, 90)  # a load writes everything
    state.committed(first, 1)
    again = learner_row("t", COURSE, "mbox:mailto:l0@example.com",
                        [(t + d * DAY_US, t, visit, MODULES[0], MODULES[0], None, None, [])
                         for d in [*range(30), 31]], RULES, 2)
    state.apply([again])
    second = state.derive(t + 32 * DAY_US, [], THRESHOLDS)
    assert [r[1] for r in second.daily] == [first.daily[-1][1] + dt.timedelta(days=2)]
    hour = (t // 1_000_000 + 31 * 86_400) // 3600 * 3600
    assert [(r[1], r[2], r[-1]) for r in second.hourly] == [(hour, 1, 1)]
    state.committed(second, 2)
    state.apply([tombstone("t", COURSE, "mbox:mailto:l0@example.com", 3)])
    third = state.derive(t + 32 * DAY_US, [], THRESHOLDS)
    assert [r[-1] for r in third.daily].count(0) == 1  # day 31 had only l0: gone; the other 30 days change
    assert len(third.hourly) == 31 and [r[-1] for r in third.hourly].count(0) == 31  # l0's hours held only l0


def test_statuses_follow_the_clock_and_changes_are_reported_once() -> None:
    """A learner who goes quiet becomes at_risk, then dropped, each reported once; the summary counts them."""
    t = 1_790_000_000_000_000
    row = learner_row("t", COURSE, "mbox:mailto:a@example.com",
                      [(t, t, "https://example.com/experienced", MODULES[0], MODULES[0], None, None, [])], RULES, 1)
    state = CourseState.load("t", COURSE, [row])
    seen = []
    for days in (1, 4, 5, 8, 9):
        derived = state.derive(t + days * DAY_US, [], THRESHOLDS)
        state.committed(derived, days)
        seen.append([c[1] for c in derived.changes])
    assert seen == [[], ["at_risk"], [], ["dropped"], []]
    assert derived.summary[0][7] == 1  # dropped


def test_cohort_rows_are_written_for_the_changed_cohort_and_the_clock_s_new_week_only() -> None:
    """A learner's change rewrites its own cohort's rows; a clock passing a Monday adds one row per cohort."""
    t = 1_790_553_600_000_000  # a Monday, 00:00 UTC
    visit = "https://example.com/experienced"

    def learner(name: str, days: list[int], version: int) -> list:
        return learner_row("t", COURSE, f"mbox:mailto:{name}@example.com",
                           [(t + d * DAY_US, t, visit, MODULES[0], MODULES[0], None, None, []) for d in days],
                           RULES, version)

    state = CourseState.load("t", COURSE, [learner("early", [0, 8], 1), learner("late", [14, 15], 1)])
    first = state.derive(t + 20 * DAY_US, [], THRESHOLDS)
    # Cohorts of week 0 (weeks 0-2) and week 2 (week 0 only): 4 rows, all written after a load.
    assert [(r[2], r[4], r[-1]) for r in first.cohorts] == [(0, 1, 1), (1, 1, 1), (2, 0, 1), (0, 1, 1)]
    state.committed(first, 1)
    state.apply([learner("late", [14, 15, 16], 2)])  # same weeks: no cohort row changes
    assert state.derive(t + 20 * DAY_US, [], THRESHOLDS).cohorts == []
    state.apply([learner("late", [14, 22], 3)])  # active in its week 1 now: its cohort only
    second = state.derive(t + 22 * DAY_US, [], THRESHOLDS)
    assert [(r[1], r[2], r[4], r[-1]) for r in second.cohorts] == [
        (first.cohorts[0][1], 3, 0, 1),  # the clock's new week (Monday of day 21) for the early cohort
        (first.cohorts[3][1], 0, 1, 1), (first.cohorts[3][1], 1, 1, 1)]
    state.committed(second, 2)
    state.apply([tombstone("t", COURSE, "mbox:mailto:late@example.com", 4)])
    third = state.derive(t + 22 * DAY_US, [], THRESHOLDS)
    assert [(r[2], r[-1]) for r in third.cohorts] == [(0, 0), (1, 0)]  # the late cohort is gone
