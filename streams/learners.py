"""Per-learner analytics state: what one learner contributes to a course's analytics, from that learner alone.

A sink batch marks the (tenant, course, learner)s it touched; the refresh recomputes exactly those learners'
``learner_state`` rows from their counting statements in ``learner_statements`` (keyed by tenant, course, learner,
time: one contiguous range per learner) and the course-level tables are then written from those rows, kept in
memory by the worker that owns the course (streams/course_state.py). A recompute reads the learner's whole course
history, so late, out-of-order, duplicated, voided and erased statements have their exact effect: the row is a
pure function of the learner's current counting statements, the same function the batch queries compute over
``statements``. ClickHouse aggregates the history (``learner_aggregates``: sessions, gaps, per day and hour), so the
worker's cost per learner grows with the hours the learner was active in, not with its statements.

Every figure here mirrors an expression of the batch SQL (schemas/analytics/*.sql.in) in integer arithmetic:
sessions and time-on-task from the sorted timestamps and their gaps, per UTC day and hour the statements,
the sessions started and the in-session gaps ending there, the first visit of each module, the completed objects,
the passed and certified flags, and the learner's input to the tenant's watermark (its latest statement time,
each capped at the time the statement was stored).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
HOUR_US = 3_600_000_000
DAY_S = 86_400
MONDAY_OFFSET_S = 3 * DAY_S  # 1970-01-01 was a Thursday: Monday 1969-12-29 starts at -3 days

# Column order of learner_state_insert (after tenant, course_id, actor_ifi).
STATE_COLUMNS = (
    "tenant",
    "course_id",
    "actor_ifi",
    "present",
    "first_seen_us",
    "last_seen_us",
    "clock_us",
    "cohort_week_s",
    "statements",
    "sessions",
    "tot_us",
    "done_objects",
    "passed",
    "certified",
    "visit_modules",
    "visit_first_us",
    "weeks_s",
    "day_keys_s",
    "day_statements",
    "day_starts",
    "day_gap_us",
    "hour_keys_s",
    "hour_statements",
    "hour_starts",
    "hour_gap_us",
    "version",
)
ACTOR = STATE_COLUMNS.index("actor_ifi")


@dataclass(frozen=True)
class Rules:
    """The settings a learner row depends on: the session cap and what counts as a certificate."""

    cap_us: int
    cert_verbs: frozenset[str]
    cert_types: frozenset[str]


def _trunc_div(a: int, b: int) -> int:
    """ClickHouse ``intDiv``: rounds toward zero (Python's ``//`` rounds down)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def utc_day_s(timestamp_us: int) -> int:
    """Start (Unix seconds) of ``toDate(toDateTime(intDiv(t, 1000000), 'UTC'), 'UTC')``."""
    return _trunc_div(timestamp_us, 1_000_000) // DAY_S * DAY_S


def monday_s(day_s: int) -> int:
    """Start (Unix seconds) of ``toMonday`` of the day starting at ``day_s``."""
    return (day_s + MONDAY_OFFSET_S) // (7 * DAY_S) * (7 * DAY_S) - MONDAY_OFFSET_S


def tombstone(tenant: str, course_id: str, actor_ifi: str, version: int) -> list[Any]:
    """The row of a learner without counting statements in the course (all voided or erased)."""
    return [
        tenant,
        course_id,
        actor_ifi,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        [],
        0,
        0,
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        version,
    ]


@dataclass(frozen=True)
class Aggregate:
    """What a learner's row is computed from, as ``learner_aggregates`` returns it (one row per learner, aggregated by
    ClickHouse, its size growing with the hours the learner was active in, not with its statements): the first and
    last time, the statements, sessions and time on task; the tenant-clock input (latest time capped at stored
    time); the completed objects, the passed and certified flags, ``(module, first time)`` of every module visited,
    sorted; and per UTC day and hour (in order) its statements, sessions started and in-session gaps."""

    first_us: int
    last_us: int
    statements: int
    sessions: int
    tot_us: int
    clock_us: int
    done: Sequence[str]
    passed: int
    certified: int
    visits: Sequence[tuple[str, int]]
    day_keys: Sequence[int]
    day_statements: Sequence[int]
    day_starts: Sequence[int]
    day_gap_us: Sequence[int]
    hour_keys: Sequence[int]
    hour_statements: Sequence[int]
    hour_starts: Sequence[int]
    hour_gap_us: Sequence[int]


def aggregate(course_id: str, statements: Sequence[tuple], rules: Rules) -> Aggregate:
    """The :class:`Aggregate` of statement tuples (timestamp_us, stored_us, verb_id, object_id, module_id,
    result_success, result_completion, types), in any order: what ``learner_aggregates`` computes in SQL."""
    done: set[str] = set()
    first_visits: dict[str, int] = {}
    passed = certified = 0
    clock = None
    for t, stored, verb, obj, module, success, completion, types in statements:
        capped = min(t, stored)
        clock = capped if clock is None else max(clock, capped)
        if verb == COMPLETED or (completion or 0) == 1:
            done.add(obj)
        if obj == course_id and (verb == PASSED or (success or 0) == 1):
            passed = 1
        if verb in rules.cert_verbs or (rules.cert_types and not rules.cert_types.isdisjoint(types)):
            certified = 1
        if module:
            first_visits[module] = min(t, first_visits.get(module, t))
    ts = sorted(s[0] for s in statements)
    cap = rules.cap_us
    sessions, tot_us = 0, 0
    days: dict[int, list[int]] = {}
    hours: dict[int, list[int]] = {}
    previous = ts[0] - cap - 1  # the first statement starts a session, with no gap counted
    for t in ts:
        gap = t - previous
        previous = t
        starts, gap_in = (1, 0) if gap > cap else (0, gap)
        sessions += starts
        tot_us += gap_in
        for bucket in (days.setdefault(utc_day_s(t), [0, 0, 0]),
                       hours.setdefault(_trunc_div(t, HOUR_US) * 3600, [0, 0, 0])):
            bucket[0] += 1
            bucket[1] += starts
            bucket[2] += gap_in
    return Aggregate(
        ts[0], ts[-1], len(ts), sessions, tot_us, clock or 0, sorted(done), passed, certified,
        sorted(first_visits.items()),
        list(days), [d[0] for d in days.values()], [d[1] for d in days.values()], [d[2] for d in days.values()],
        list(hours), [h[0] for h in hours.values()], [h[1] for h in hours.values()], [h[2] for h in hours.values()])


def aggregate_params(rules: Rules) -> dict[str, Any]:
    """The session cap and the certificate rules as parameters of ``learner_aggregates*``: ``IN ()`` is not valid
    SQL, so a never-matching empty string stands in for no verb; the types go as one space-separated string (an IRI
    has no space), split into an array there, since a bound list renders as a tuple."""
    return {"cap_us": rules.cap_us, "cert_verbs": sorted(rules.cert_verbs) or [""],
            "cert_types": " ".join(sorted(rules.cert_types)), "use_types": int(bool(rules.cert_types))}


def learner_row(
    tenant: str, course_id: str, actor_ifi: str, statements: Sequence[tuple], rules: Rules, version: int
) -> list[Any]:
    """The ``learner_state`` row of one learner from its counting statements.

    ``statements``: tuples (timestamp_us, stored_us, verb_id, object_id, module_id, result_success,
    result_completion, types), in any order.
    """
    if not statements:
        return tombstone(tenant, course_id, actor_ifi, version)
    return aggregated_row(tenant, course_id, actor_ifi, aggregate(course_id, statements, rules), version)


def aggregated_row(tenant: str, course_id: str, actor_ifi: str, agg: Aggregate, version: int) -> list[Any]:
    """The ``learner_state`` row of one learner from its :class:`Aggregate` (its bucket lists are used as they are:
    nothing changes them)."""
    weeks = list(dict.fromkeys(monday_s(d) for d in agg.day_keys))  # the days are in order, so are their weeks
    return [
        tenant,
        course_id,
        actor_ifi,
        1,
        agg.first_us,
        agg.last_us,
        agg.clock_us,
        weeks[0],
        agg.statements,
        agg.sessions,
        agg.tot_us,
        sorted(agg.done),
        agg.passed,
        agg.certified,
        [module for module, _ in agg.visits],
        [t for _, t in agg.visits],
        weeks,
        agg.day_keys,
        agg.day_statements,
        agg.day_starts,
        agg.day_gap_us,
        agg.hour_keys,
        agg.hour_statements,
        agg.hour_starts,
        agg.hour_gap_us,
        version,
    ]


def aggregated_rows(tenant: str, course_id: str, learners: Iterable[str], rows: Iterable[Sequence[Any]],
                    version: int) -> list[list[Any]]:
    """``learner_state`` rows for ``learners`` from ``learner_aggregates`` rows (``actor_ifi`` and the fields of
    :class:`Aggregate`, in order): every learner in ``learners`` gets a row (a tombstone if it has no statement
    left); learners that appear only in ``rows`` get one too."""
    by_learner: dict[str, Aggregate | None] = dict.fromkeys(learners)
    for actor, *fields in rows:
        by_learner[actor] = Aggregate(*fields)
    return [
        aggregated_row(tenant, course_id, actor, agg, version) if agg is not None
        else tombstone(tenant, course_id, actor, version)
        for actor, agg in sorted(by_learner.items())
    ]
