"""A course's analytics kept in the worker that owns it: the learner rows in memory, the course tables as sums.

The refresh recomputes the learners a batch touched (streams/learners.py) and hands their new ``learner_state``
rows to the course's :class:`CourseState`, which takes each learner's old contribution out of the course's sums
and puts the new one in: engagement per UTC day and hour, cohort weeks, module visit ranks and module reach. The
course tables are then written from those sums (a few hundred rows, whatever the course's history), so a batch
costs work in proportion to the learners it touched. What depends on the clock (each learner's status, the
summary's counts, who dropped where, the at-risk events) is kept as each learner's contribution at the last
published clock; a derivation evaluates again only the changed learners and those whose last statement lies
within the clock's move of a threshold (the last-seen index), without reading ClickHouse.

The state is a cache of ``learner_state`` (the source of truth, written before the state is updated): it is
loaded from there the first time a course is derived in a process, and loaded again when another process wrote
learner rows of the course (``learner_state_writes``), when an erasure removed learners, or after any failure.
Every figure mirrors the batch SQL (schemas/analytics/*.sql.in) in integer arithmetic, so the tables equal the
batch queries over ``statements`` exactly (tests/integration/test_analytics.py).
"""

from __future__ import annotations

import datetime as dt
import heapq
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sortedcontainers import SortedList

from streams.analytics import US
from streams.learners import DAY_S, STATE_COLUMNS, _trunc_div, monday_s, utc_day_s

WEEK_S = 7 * DAY_S
EPOCH = dt.date(1970, 1, 1)
AT_RISK_ROWS = 200  # at_risk_learners: the at-risk and dropped learners kept per course (the panel shows 200)
_COL = {name: i for i, name in enumerate(STATE_COLUMNS)}


def date_of(day_s: int) -> dt.date:
    """The UTC date of a day given as seconds since the epoch."""
    return EPOCH + dt.timedelta(days=day_s // DAY_S)


class Learner:
    """What the course tables need from one learner's ``learner_state`` row (present rows only)."""

    __slots__ = ("first_seen_us", "last_seen_us", "clock_us", "cohort_week_s", "statements", "sessions", "tot_us",
                 "done", "passed", "certified", "modules", "ranked", "weeks", "days", "hours")

    def __init__(self, row: Sequence[Any]) -> None:
        c = _COL
        self.first_seen_us = int(row[c["first_seen_us"]])
        self.last_seen_us = int(row[c["last_seen_us"]])
        self.clock_us = int(row[c["clock_us"]])
        self.cohort_week_s = int(row[c["cohort_week_s"]])
        self.statements = int(row[c["statements"]])
        self.sessions = int(row[c["sessions"]])
        self.tot_us = int(row[c["tot_us"]])
        self.done = tuple(row[c["done_objects"]])
        self.passed = int(row[c["passed"]])
        self.certified = int(row[c["certified"]])
        modules, firsts = row[c["visit_modules"]], row[c["visit_first_us"]]
        self.modules = tuple(modules)
        # Modules in the order of the learner's first visits, ties by module id (the batch SQL's arraySort).
        self.ranked = tuple(m for _, m in sorted(zip(map(int, firsts), modules, strict=True)))
        self.weeks = _ints(row[c["weeks_s"]])
        # Flattened (key, statements, sessions started, in-session gap us) per UTC day and hour: compact in memory.
        self.days = _flatten(row, "day_keys_s", "day_statements", "day_starts", "day_gap_us")
        self.hours = _flatten(row, "hour_keys_s", "hour_statements", "hour_starts", "hour_gap_us")


def _ints(values: Sequence[Any]) -> array:
    """An int64 array; values that are not ints yet (a JSON reader's strings) are converted."""
    try:
        return array("q", values)
    except TypeError:
        return array("q", map(int, values))


def _flatten(row: Sequence[Any], *names: str) -> array:
    columns = [row[_COL[n]] for n in names]
    if len({len(col) for col in columns}) > 1:
        raise ValueError(f"learner_state arrays {names} differ in length")
    out: list[Any] = [0] * (len(names) * len(columns[0]))
    for j, col in enumerate(columns):  # interleaved by slice assignment: one C loop per column
        out[j::len(names)] = col
    return _ints(out)


@dataclass(frozen=True)
class Thresholds:
    """The clock-relative rules: at risk and dropped after so long inactive, active within ``active_us``."""

    at_risk_us: int
    dropped_us: int
    active_us: int


@dataclass(frozen=True)
class ModuleOrder:
    """The course's module order: the declared structure, else inferred from the learners' first visits."""

    modules: tuple[tuple[int, str, int], ...]  # (position, module_id, declared)
    last_declared: str  # completing it completes the course ('' without a declared structure)

    def positions(self) -> dict[str, int]:
        """Module id -> position."""
        return {m: p for p, m, _ in self.modules}


@dataclass(frozen=True)
class Contribution:
    """What one learner adds to the summary and the funnel at a clock: the summary group (furthest module and its
    position), active, completed, passed, certified, and the status."""

    furthest: tuple[str, int]
    active: int
    completed: int
    passed: int
    certified: int
    status: str


def time_bin(tot_us: int) -> int:
    """A learner's ``course_time_on_task`` bin: whole seconds of time on task in 15 minutes, 16 for 4 hours and
    more (as the batch query: ``least(intDiv(toUInt64(tot_us / 1000000), 900), 16)``)."""
    return min(int(tot_us / US) // 900, 16)


def _bump(counter: dict[Any, int], key: Any, delta: int) -> None:
    """Add ``delta`` to ``counter[key]``; a key that reaches 0 is removed (so sums equal a fresh load's)."""
    n = counter.get(key, 0) + delta
    if n:
        counter[key] = n
    else:
        counter.pop(key, None)


def _count_contribution(groups: dict[tuple[str, int], list[int]], dropped: dict[str, int], c: Contribution,
                        sign: int) -> None:
    g = groups.get(c.furthest)
    if g is None:
        g = groups[c.furthest] = [0, 0, 0, 0, 0, 0, 0]
    g[0] += sign
    g[1] += sign * c.active
    g[2] += sign * c.completed
    g[3] += sign * c.passed
    g[4] += sign * c.certified
    g[5] += sign * (c.status == "at_risk")
    g[6] += sign * (c.status == "dropped")
    if g[0] == 0:
        del groups[c.furthest]
    if c.status == "dropped" and c.furthest[0]:
        _bump(dropped, c.furthest[0], sign)


@dataclass
class Derived:
    """The rows of one derivation (without tenant, course and version) and what changed for the learners."""

    # engagement_daily_rows / engagement_hourly_rows to write: the days and hours whose sums changed (every one
    # when ``full``), ``present = 0`` for one left without statements.
    daily: list[list[Any]]
    hourly: list[list[Any]]
    time_on_task: list[list[Any]] | None  # course_time_on_task; None: no learner changed, copy the last version
    # cohort_retention_rows to write: every row of the cohorts whose learners changed, and each cohort's rows the
    # clock's move added or took away (every row when ``full``), ``present = 0`` for a row no longer there.
    cohorts: list[list[Any]]
    cohort_last: dict[int, int]  # each cohort's (UTC seconds) last week number at ``clock``
    funnel: list[list[Any]]
    summary: list[list[Any]]
    at_risk: list[list[Any]]  # at_risk_learners: the course's longest-silent at-risk, then dropped, learners
    learner_rows: list[list[Any]]  # learner_course_rows to write: changed learners, statuses that moved, the gone
    full: bool  # learner_rows hold every present learner (rows of others must be marked gone)
    changes: list[tuple]  # (actor, status, previous status, last_seen_us, inactive_s, furthest, clock)
    order: ModuleOrder
    clock: int
    groups: dict[tuple[str, int], list[int]]  # the summary's groups at ``clock``
    dropped: dict[str, int]  # dropped learners per furthest module at ``clock``
    pending: dict[str, Contribution | None]  # the learners evaluated again: their new contribution


def _add(sums: dict[int, list[int]], flat: array, sign: int) -> None:
    for i in range(0, len(flat), 4):
        bucket = sums.get(flat[i])
        if bucket is None:
            bucket = sums[flat[i]] = [0, 0, 0, 0]
        bucket[0] += sign
        bucket[1] += sign * flat[i + 1]
        bucket[2] += sign * flat[i + 2]
        bucket[3] += sign * flat[i + 3]
        if bucket[0] == 0:
            del sums[flat[i]]


def _buckets(flat: array) -> dict[int, tuple[int, ...]]:
    """A learner's flattened day or hour contributions as key -> (statements, sessions started, gap us)."""
    return {flat[i]: (flat[i + 1], flat[i + 2], flat[i + 3]) for i in range(0, len(flat), 4)}


@dataclass
class CourseState:
    """One course's learners and the sums the course tables are written from."""

    tenant: str
    course_id: str
    learners: dict[str, Learner] = field(default_factory=dict)
    days: dict[int, list[int]] = field(default_factory=dict)
    hours: dict[int, list[int]] = field(default_factory=dict)
    # The days and hours whose sums changed since the last published derivation (their rows are written).
    dirty_days: set[int] = field(default_factory=set)
    dirty_hours: set[int] = field(default_factory=set)
    dirty_cohorts: set[int] = field(default_factory=set)  # cohort weeks (UTC seconds) whose counts changed
    cohort_last: dict[int, int] = field(default_factory=dict)  # each cohort's last week number, last published
    cohorts: dict[tuple[int, int], int] = field(default_factory=dict)  # (cohort week, week number) -> learners
    ranks: dict[str, list[int]] = field(default_factory=dict)  # module -> [sum of visit ranks, learners]
    reached: dict[str, int] = field(default_factory=dict)  # module -> learners who visited it
    time_bins: dict[int, int] = field(default_factory=dict)  # time-on-task bin -> learners (course_time_on_task)
    # The learners' clock inputs (clock_us -> learners) and a max-heap of them, stale entries dropped lazily: the
    # course's input to the tenant clock in O(log n) per changed learner instead of a pass over the course per round.
    clocks: dict[int, int] = field(default_factory=dict)
    clock_heap: list[int] = field(default_factory=list)
    # Learners whose rows changed since the last published derivation.
    changed: set[str] = field(default_factory=set)
    # The statuses found in learner_course_rows when the state was loaded; emptied by the first publish.
    statuses: dict[str, str] = field(default_factory=dict)
    furthest: dict[str, tuple[str, int]] = field(default_factory=dict)
    order: ModuleOrder | None = None
    # The last published derivation: its clock, each learner's contribution, the summary groups and drop-offs.
    clock: int | None = None
    contrib: dict[str, Contribution] = field(default_factory=dict)
    groups: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    # (last seen, learner) of every learner: who can cross a threshold when the clock moves.
    index: SortedList = field(default_factory=SortedList)
    all_changed: bool = True  # nothing derived from this state yet: write every learner row
    published: int = 0  # the version this state last published
    clock_written: tuple[int, int] = (-1, -1)  # (clock, learners) last recorded in analytics_course_clock
    # learner_state_writes as seen when this state was last known to be complete: {writer: version}
    writes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, tenant: str, course_id: str, rows: Iterable[Sequence[Any]],
             statuses: Iterable[tuple[str, str]] = ()) -> CourseState:
        """The state of a course from its present ``learner_state`` rows and the statuses last published."""
        state = cls(tenant, course_id)
        state.apply(rows, mark=False)  # a loaded state's first derivation writes every row anyway
        state.statuses = dict(statuses)
        state.changed.clear()
        state.all_changed = True
        return state

    def apply(self, rows: Iterable[Sequence[Any]], *, mark: bool = True) -> None:
        """Replace learners by their new ``learner_state`` rows (``present = 0``: the learner is gone); ``mark``:
        note the days, hours and cohorts they change (not needed before a derivation that writes them all)."""
        actor_i, present_i = _COL["actor_ifi"], _COL["present"]
        for row in rows:
            actor = row[actor_i]
            old = self.learners.pop(actor, None)
            if old is not None:
                self._count(old, -1)
                self.index.remove((old.last_seen_us, actor))
            new = None
            if int(row[present_i]):
                new = self.learners[actor] = Learner(row)
                self._count(new, 1)
                self.index.add((new.last_seen_us, actor))
            if mark:
                self._mark_changed(old, new)
            self.changed.add(actor)

    def forget(self, actors: Iterable[str]) -> None:
        """Take out learners that have no ``learner_state`` row any more (their rows were deleted)."""
        for actor in actors:
            old = self.learners.pop(actor, None)
            if old is not None:
                self._count(old, -1)
                self.index.remove((old.last_seen_us, actor))
                self._mark_changed(old, None)
                self.changed.add(actor)

    def _mark_changed(self, old: Learner | None, new: Learner | None) -> None:
        """Mark the days, hours and cohorts where a learner's contribution differs between ``old`` and ``new``
        (None: no row): only their engagement and cohort rows change."""
        for attr, dirty in (("days", self.dirty_days), ("hours", self.dirty_hours)):
            before = _buckets(getattr(old, attr)) if old is not None else {}
            after = _buckets(getattr(new, attr)) if new is not None else {}
            dirty.update(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        if old is None or new is None or old.cohort_week_s != new.cohort_week_s or old.weeks != new.weeks:
            self.dirty_cohorts.update(lr.cohort_week_s for lr in (old, new) if lr is not None)

    def _count(self, learner: Learner, sign: int) -> None:
        _add(self.days, learner.days, sign)
        _add(self.hours, learner.hours, sign)
        for week in learner.weeks:
            _bump(self.cohorts, (learner.cohort_week_s, (week - learner.cohort_week_s) // WEEK_S), sign)
        for rank, module in enumerate(learner.ranked, 1):
            acc = self.ranks.setdefault(module, [0, 0])
            acc[0] += sign * rank
            acc[1] += sign
            if acc[1] == 0:
                del self.ranks[module]
        for module in learner.modules:
            _bump(self.reached, module, sign)
        _bump(self.time_bins, time_bin(learner.tot_us), sign)
        _bump(self.clocks, learner.clock_us, sign)
        if sign > 0:
            heapq.heappush(self.clock_heap, -learner.clock_us)
            if len(self.clock_heap) > 2 * len(self.clocks) + 64:  # mostly stale entries: rebuild
                self.clock_heap = [-c for c in self.clocks]
                heapq.heapify(self.clock_heap)

    def clock_input(self) -> tuple[int, int]:
        """(the latest clock input of the course's learners, 0 without learners; how many learners): what the
        course records in ``analytics_course_clock``."""
        heap = self.clock_heap
        while heap and -heap[0] not in self.clocks:
            heapq.heappop(heap)
        return (-heap[0] if heap else 0, len(self.learners))

    def module_order(self, structure: Sequence[tuple[str, int]]) -> ModuleOrder:
        """The declared ``structure`` ((module, position) of the latest declaration), else the modules in the
        order of their average first-visit rank over the learners, ties by module id."""
        if structure:
            modules = tuple((int(p), m, 1) for m, p in structure)
            last = max(modules, key=lambda x: x[0])[1] if modules else ""
            return ModuleOrder(modules, last)
        ranked = sorted((acc[0] / acc[1], m) for m, acc in self.ranks.items())
        return ModuleOrder(tuple((i, m, 0) for i, (_, m) in enumerate(ranked, 1)), "")

    def derive(self, clock_us: int, structure: Sequence[tuple[str, int]], rules: Thresholds) -> Derived:
        """The course tables at ``clock_us``.

        Only the learners that changed, and those whose status or activity can flip between the last derivation's
        clock and ``clock_us`` (their last statement within that move of a threshold: found in the last-seen
        index), are evaluated again; learner rows are written for the changed learners and those whose status
        moved. Everything is evaluated (and every learner row written) after a load or when the module order
        moved. Nothing here changes what the next derivation builds on: that is
        :meth:`committed`, once the version is published.
        """
        order = self.module_order(structure)
        full = self.all_changed or self.clock is None or order != self.order
        if full:
            affected: Iterable[str] = self.learners.keys()
            groups: dict[tuple[str, int], list[int]] = {}
            dropped: dict[str, int] = {}
        else:
            assert self.clock is not None
            lo, hi = min(self.clock, clock_us), max(self.clock, clock_us)
            crossing = set(self.changed)
            if lo != hi:
                for threshold in {rules.at_risk_us, rules.dropped_us, rules.active_us}:
                    crossing.update(actor for _, actor in self.index.irange(
                        (lo - threshold,), (hi - threshold + 1,), inclusive=(True, False)))
            affected = crossing
            groups = {k: list(v) for k, v in self.groups.items()}
            dropped = dict(self.dropped)
        positions = order.positions()
        learner_rows: list[list[Any]] = []
        changes: list[tuple] = []
        pending: dict[str, Contribution | None] = {}
        active_from = clock_us - rules.active_us
        for actor in affected:
            old = None if full else self.contrib.get(actor)
            if old is not None:
                _count_contribution(groups, dropped, old, -1)
            lr = self.learners.get(actor)
            if lr is None:
                pending[actor] = None
                if old is not None or actor in self.changed:
                    learner_rows.append(self.gone_row(actor))
                continue
            if full or actor in self.changed or actor not in self.furthest:
                best = ("", 0)
                for module in lr.modules:
                    p = positions.get(module)
                    if p is not None and p > best[1]:
                        best = (module, p)
                self.furthest[actor] = best  # a function of the learner and the order only
            furthest = self.furthest[actor]
            completed = 1 if (self.course_id in lr.done or (order.last_declared
                                                             and order.last_declared in lr.done)) else 0
            inactive_us = clock_us - lr.last_seen_us
            if completed:
                status = "completed"
            elif inactive_us >= rules.dropped_us:
                status = "dropped"
            elif inactive_us >= rules.at_risk_us:
                status = "at_risk"
            else:
                status = "started"
            new = Contribution(furthest, int(lr.last_seen_us >= active_from), completed, lr.passed, lr.certified,
                               status)
            pending[actor] = new
            _count_contribution(groups, dropped, new, 1)
            previous = self.previous_status(actor)
            if status in ("at_risk", "dropped") and previous != status:
                changes.append((actor, status, previous, lr.last_seen_us, _trunc_div(inactive_us, US),
                                furthest[0], clock_us))
            if full or actor in self.changed or old is None or old.status != status:
                learner_rows.append(self._learner_course_row(actor, lr, furthest, status, completed))
        learners_changed = bool(self.changed) or full  # else time on task is copied from the last version
        cohort_rows, cohort_last = self._cohorts(clock_us, full)
        return Derived(
            daily=self._engagement(self.days, self.days if full else self.dirty_days, date_of),
            hourly=self._engagement(self.hours, self.hours if full else self.dirty_hours, int),
            time_on_task=([[self.course_id, b, n] for b, n in sorted(self.time_bins.items())]
                          if learners_changed else None),
            cohorts=cohort_rows, cohort_last=cohort_last,
            funnel=[[self.course_id, p, m, declared, self.reached.get(m, 0), dropped.get(m, 0)]
                    for p, m, declared in order.modules],
            summary=self._summary(groups, clock_us),
            at_risk=self._at_risk(clock_us, rules, pending),
            learner_rows=learner_rows, full=full, changes=changes, order=order, clock=clock_us,
            groups=groups, dropped=dropped, pending=pending)

    def _at_risk(self, clock_us: int, rules: Thresholds, pending: dict[str, Contribution | None]) -> list[list[Any]]:
        """The ``at_risk_learners`` rows at ``clock_us``: the at-risk learners, then the dropped ones, each longest
        silent first (ties by learner), at most ``AT_RISK_ROWS``. Walked in the last-seen index from the longest
        silent of each status on, so it looks at about that many learners (and the completed ones among them),
        not the course."""
        rows: list[list[Any]] = []
        # At risk: last seen in (clock - dropped, clock - at_risk]; dropped: at or before clock - dropped.
        windows = (("at_risk", (clock_us - rules.dropped_us + 1,), (clock_us - rules.at_risk_us + 1,)),
                   ("dropped", None, (clock_us - rules.dropped_us + 1,)))
        for status, low, high in windows:
            found: list[tuple[int, str, Contribution]] = []
            for last_seen_us, actor in self.index.irange(low, high, inclusive=(True, False)):
                c = pending[actor] if actor in pending else self.contrib.get(actor)
                if c is None or c.status != status:
                    continue
                inactive_s = _trunc_div(clock_us - last_seen_us, US)
                # Enough rows, and this learner is silent for fewer whole seconds than the last one taken: no
                # later learner can come before them (ties within a second go by learner, so those are all taken).
                if len(rows) + len(found) >= AT_RISK_ROWS and inactive_s < found[-1][0]:
                    break
                found.append((inactive_s, actor, c))
            found.sort(key=lambda f: (-f[0], f[1]))
            for inactive_s, actor, c in found[:AT_RISK_ROWS - len(rows)]:
                lr = self.learners[actor]
                rows.append([self.course_id, actor, status, _trunc_div(lr.last_seen_us, US), lr.last_seen_us,
                             inactive_s, c.furthest[0], c.furthest[1], lr.tot_us / US])
            if len(rows) >= AT_RISK_ROWS:
                break
        return rows

    def previous_status(self, actor: str) -> str:
        """The learner's status in the last published version ('' without a row there): its contribution once this
        state has published, the status loaded with the state before that."""
        contribution = self.contrib.get(actor)
        return contribution.status if contribution is not None else self.statuses.get(actor, "")

    def committed(self, derived: Derived, version: int) -> None:
        """The derivation was published as ``version``: it is the base of the next one."""
        self.published = version
        self.order = derived.order
        self.clock = derived.clock
        self.groups = derived.groups
        self.dropped = derived.dropped
        if derived.full:
            self.contrib = {}
        for actor, contribution in derived.pending.items():
            if contribution is None:
                self.contrib.pop(actor, None)
                self.furthest.pop(actor, None)
            else:
                self.contrib[actor] = contribution
        self.statuses = {}  # the contributions hold every present learner's published status from now on
        self.changed.clear()
        self.all_changed = False
        self.dirty_days.clear()
        self.dirty_hours.clear()
        self.dirty_cohorts.clear()
        self.cohort_last = derived.cohort_last

    def _learner_course_row(self, actor: str, lr: Learner, furthest: tuple[str, int], status: str,
                            completed: int) -> list[Any]:
        """A ``learner_course_rows`` row (without tenant and version): what the view shows, less what it computes
        from the course's clock (``inactive_s``, ``watermark_us``)."""
        return [self.course_id, actor, _trunc_div(lr.first_seen_us, US), _trunc_div(lr.last_seen_us, US),
                lr.first_seen_us, lr.last_seen_us, date_of(monday_s(utc_day_s(lr.first_seen_us))), lr.statements,
                lr.sessions, lr.tot_us / US, furthest[0], furthest[1], status, completed, lr.passed, lr.certified, 1]

    def gone_row(self, actor: str) -> list[Any]:
        """The ``learner_course_rows`` row of a learner no longer in the course (``present = 0``)."""
        return [self.course_id, actor, 0, 0, 0, 0, EPOCH, 0, 0, 0.0, "", 0, "", 0, 0, 0, 0]

    def _engagement(self, sums: dict[int, list[int]], keys: Iterable[int], key: Any) -> list[list[Any]]:
        """The engagement rows of ``keys`` (UTC seconds of a day or an hour); a key without sums is a gone row."""
        rows = []
        for k in sorted(keys):
            v = sums.get(k)
            rows.append([self.course_id, key(k), v[0], v[1], v[2], v[3] / US, 1] if v is not None else
                        self.gone_engagement(k, key))
        return rows

    def gone_engagement(self, seconds: int, key: Any) -> list[Any]:
        """The engagement row of a day or an hour (``key`` builds the column from its UTC seconds) that no longer has
        a counting statement (``present = 0``)."""
        return [self.course_id, key(seconds), 0, 0, 0, 0.0, 0]

    def _cohorts(self, clock_us: int, full: bool) -> tuple[list[list[Any]], dict[int, int]]:
        """The cohort rows to write at ``clock_us`` and each cohort's last week number there. Each cohort has a row
        per week from its first up to its last active week or the clock's week, whichever is later: a cohort whose
        learners changed is written whole, another only where the clock's move changed its last week."""
        clock_monday_days = monday_s(utc_day_s(clock_us)) // DAY_S
        by_cohort: dict[int, dict[int, int]] = {}
        for (cohort, wn), n in self.cohorts.items():
            by_cohort.setdefault(cohort, {})[wn] = n
        lasts = {cohort: max(max(weeks), _trunc_div(clock_monday_days - cohort // DAY_S, 7), 0)
                 for cohort, weeks in by_cohort.items()}
        rows = []
        for cohort in sorted(lasts.keys() | self.cohort_last.keys()):
            new, old = lasts.get(cohort, -1), self.cohort_last.get(cohort, -1)  # -1: no row
            if full or cohort in self.dirty_cohorts:
                first = 0
            elif new != old:
                first = min(new, old) + 1
            else:
                continue
            weeks = by_cohort.get(cohort, {})
            size = weeks.get(0, 0)
            for week in range(first, max(new, old) + 1):
                active = weeks.get(week, 0)
                rows.append([self.course_id, date_of(cohort), week, size, active, active / size, 1] if week <= new
                            else self.gone_cohort_row(cohort, week))
        return rows, lasts

    def gone_cohort_row(self, cohort_s: int, week: int) -> list[Any]:
        """The cohort row of a cohort week (UTC seconds) and week number the triangle no longer has."""
        return [self.course_id, date_of(cohort_s), week, 0, 0, 0.0, 0]

    def _summary(self, groups: dict[tuple[str, int], list[int]], clock_us: int) -> list[list[Any]]:
        if not groups:
            return []
        totals = [sum(g[i] for g in groups.values()) for i in range(7)]
        n, active, completed, passed, certified, at_risk, dropped = totals
        candidates = [(g[6], -p, m, p) for (m, p), g in groups.items() if g[6] > 0 and p > 0]
        top_module, top_position = ("", 0)
        if candidates:
            _, _, top_module, top_position = max(candidates, key=lambda c: (c[0], c[1]))
        top_learners = max((g[6] for (_, p), g in groups.items() if p > 0), default=0)
        return [[self.course_id, n, active, completed, passed, certified, at_risk, dropped, completed / n,
                 passed / n, certified / completed if completed else 0.0, top_module, top_position, top_learners,
                 clock_us]]
