"""Analytics refresh: per-learner recomputation driven by the stream, course tables derived from learner rows.

1. The sink, after a batch is in ClickHouse and before it acks, sends one marker per affected slice to
   ``analytics_dirty_topic`` naming the learners the batch touched there (its statements' learners and the
   learners of the targets its voids hit), keyed ``tenant|course`` so that exactly one worker of the group owns
   each slice.
2. The ``analytics-refresh`` agent collects markers for ``analytics_refresh_s`` (debounce). Per distinct slice it
   recomputes only the named learners' ``learner_state`` rows from their statements in ``learner_statements``
   (streams/learners.py), hands them to the course held in memory (streams/course_state.py: the course's sums
   change by those learners' contributions), writes every course-level table from it under a new version (no raw
   statement and no other learner's row is read), publishes at-risk
   events, records the version in ``analytics_slices`` (the atomic swap: the public views show only recorded
   versions), and only then acks the markers. A crash anywhere before the ack redelivers the markers and the
   same learners are recomputed again: idempotent, since a learner row is a pure function of the learner's
   counting statements and a derivation a pure function of the learner rows (the memory is a cache of
   ``learner_state``, loaded again whenever another process wrote rows of the course).
3. The tenant watermark moves for all of a tenant's courses: after each recompute, the tenant's slices computed
   at another clock are re-marked with an empty learner list (derive again, no learner recomputed). A timer on
   the group's leader worker (Faust's ``on_leader``) compares the slices with the clock recorded per tenant
   (``analytics_clock``) as a safety net, and drives wall-clock mode.

Convergence: the last marker naming a learner is sent after the last write to that learner's raw rows, and its
recompute starts after the marker was read, so the learner's newest row reads its final statements; the slice's
highest version is derived after that, from the final learner rows, at the final clock; the tables then equal the
batch queries over ``statements`` exactly.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson

from lrs.core.config import Settings
from lrs.core.kafka.markers import LEARNER_LEFT
from lrs.core.retry import retry_forever
from lrs.core.store.clickhouse import ClickHouse, bind
from lrs.core.store.queries import query
from streams import cohorts, dropoff, engagement, metrics
from streams.analytics import (
    US,
    Slice,
    SliceTable,
    clock_us,
    learners_marker_value,
    marker_key,
    now_us,
    parse_work,
    query_params,
    split_list,
)
from streams.course_state import CourseState, Derived, Thresholds, date_of
from streams.learners import ACTOR, Rules, aggregate_params, aggregated_rows
from streams.mapping_rules import MappingRulesStore

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
    state: CourseState | None = None
    derived: Derived | None = None


Touched = dict[str, tuple[dict[str, set[str]], set[str]]]
LEARNERS_CHUNK = 2000
# Statements (as learner_state counts them) one read of learner_aggregates aggregates, at most (a learner with more
# is read alone): ClickHouse holds each learner's times while it aggregates them, so one read's memory there grows
# with its learners' histories (what crosses the wire grows only with the hours they were active in).
READ_STATEMENTS = 100_000
SLOW_ROUND_S = 1.0  # a round taking longer is logged (its markers, slices and time)
CLEANUP_SLICES = 1000  # slices per cleanup mutation
CLIENT_NAME = "lrs-analytics"  # the refresh's ClickHouse connections (system.query_log.client_name)


def merge_work(items: Iterable[tuple[str, str, tuple[str, ...] | None]]) -> dict[Slice, set[str] | None]:
    """Markers of one round per slice: the union of their learners; None (every learner) wins."""
    work: dict[Slice, set[str] | None] = {}
    for tenant, course_id, learners in items:
        key = (tenant, course_id)
        if learners is None or (key in work and work[key] is None):
            work[key] = None
        else:
            work.setdefault(key, set()).update(learners)  # type: ignore[union-attr]
    return work


class SliceRefresher:
    """Synchronous ClickHouse work of the refresh (runs in an executor thread)."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse | None = None,
                 rules: MappingRulesStore | None = None) -> None:
        self.settings = settings
        # Its own connections, named and logged: the analytics path's reads are in system.query_log (lrs bench).
        self.clickhouse = clickhouse or ClickHouse(settings, size=2, client_name=CLIENT_NAME, log_queries=True)
        # The sink's store when given, so both map a batch with the same per-tenant rules.
        self.rules = rules or MappingRulesStore(settings, self.clickhouse)
        self.learner_rules = Rules(
            cap_us=int(settings.analytics_session_cap_s * US),
            cert_verbs=frozenset(split_list(settings.analytics_certificate_verbs)),
            cert_types=frozenset(split_list(settings.analytics_certificate_types)))
        self.aggregate_params = aggregate_params(self.learner_rules)
        self.built: set[Slice] = set()  # courses known to have learner rows built from all their statements
        rules = query_params(settings, "", [], 0)  # the same conversions as the batch queries' parameters
        self.thresholds = Thresholds(rules["at_risk_us"], rules["dropped_us"], rules["active_us"])
        # The courses this process derives, in memory (streams/course_state.py); this process's name in
        # learner_state_writes, so that it notices rows another process wrote.
        self.courses: dict[Slice, CourseState] = {}
        self.writer = uuid.uuid4().hex

    def dirty_learners(self, touched: Touched) -> dict[Slice, set[str]]:
        """The learners a sink batch (``BatchResult.touched``) changed, per slice: its statements' learners and
        the learners of the statements its voids target."""
        dirty: dict[Slice, set[str]] = {}
        for tenant, (courses, targets) in touched.items():
            for course, learners in courses.items():
                dirty.setdefault((tenant, course), set()).update(learners)
            if targets:
                # A voiding statement has no course; its target's learner does. A target not stored yet marks its
                # own learner when it arrives (the sink voids it then).
                found = self.clickhouse.run_in_chunks("analytics_target_learners",
                                                      {"tenant": tenant, "ids": sorted(targets)})
                for course, learner in found:
                    dirty.setdefault((tenant, course), set()).add(learner)
        return dirty

    def dirty_slices(self, touched: Touched) -> set[Slice]:
        """Slices touched by a sink batch."""
        return set(self.dirty_learners(touched))

    def update_learners(self, tenant: str, course_id: str, learners: set[str] | None, version: int) -> int:
        """:meth:`update_tenant` for one course."""
        return self.update_tenant(tenant, {course_id: learners}, version)

    def update_tenant(self, tenant: str, work: dict[str, set[str] | None], version: int) -> int:
        """Recompute the ``learner_state`` rows of the named learners (None: every learner) of some courses of one
        tenant; their count.

        One read of the learners' statements and one write of their rows for all the courses of a round, however
        many (a ClickHouse round trip per course made a round's time grow with the courses it touched). The
        courses in memory take the new rows after they are in ClickHouse; a whole-course recompute, an erasure
        (``LEARNER_LEFT``) or a failure drops a course, to be loaded again from the table.
        """
        work = {c: learners for c, learners in work.items() if learners is None or learners}
        if not work:
            return 0
        try:
            count = self._update_tenant(tenant, work, version)
            self._course_clocks(tenant, sorted(work), version)
            return count
        except BaseException:
            self._drop(tenant, work)
            raise

    def _drop(self, tenant: str, courses: Iterable[str]) -> None:
        for course in courses:
            self.courses.pop((tenant, course), None)

    def _update_tenant(self, tenant: str, work: dict[str, set[str] | None], version: int) -> int:
        unknown = sorted(c for c, learners in work.items() if learners is not None and (tenant, c) not in self.built)
        if unknown:  # once built, a course stays built (kept incrementally)
            built = self.clickhouse.run("learner_courses_built", {"tenant": tenant, "courses": unknown})
            self.built.update((tenant, str(c)) for (c,) in built)
        count = 0
        pairs: list[tuple[str, str]] = []
        for course, learners in sorted(work.items()):
            if learners is None or (tenant, course) not in self.built:
                # Every learner, or statements from before the learner rows existed (an upgrade): the whole course.
                count += self._rebuild_course(tenant, course, version)
                continue
            if LEARNER_LEFT in learners:
                self.courses.pop((tenant, course), None)  # rows left the table (erasure): load them again
            # LEARNER_LEFT has no row to recompute; the derive still counts the change.
            pairs += [(course, actor) for actor in sorted(learners - {LEARNER_LEFT})]
        for chunk in self._read_chunks(tenant, pairs):
            self._update_pairs(tenant, chunk, version)
        return count + len(pairs)

    def _read_chunks(self, tenant: str, pairs: list[tuple[str, str]]) -> Iterator[list[tuple[str, str]]]:
        """``pairs`` in runs of at most ``LEARNERS_CHUNK`` learners and about ``READ_STATEMENTS`` statements, each
        learner weighed by its statements in the course as held in memory (1 if not held: new, or not loaded)."""
        chunk: list[tuple[str, str]] = []
        size = 0
        for course, actor in pairs:
            memory = self.courses.get((tenant, course))
            learner = memory.learners.get(actor) if memory is not None else None
            weight = 1 + (learner.statements if learner is not None else 0)
            if chunk and (len(chunk) >= LEARNERS_CHUNK or size + weight > READ_STATEMENTS):
                yield chunk
                chunk, size = [], 0
            chunk.append((course, actor))
            size += weight
        if chunk:
            yield chunk

    def _rebuild_course(self, tenant: str, course_id: str, version: int) -> int:
        """Every learner row of a course from all its statements; the course held in memory from them."""
        params = {"tenant": tenant, "course_id": course_id}
        self.courses.pop((tenant, course_id), None)
        writes = self._foreign_writes(tenant, [course_id]).get(course_id, {})  # before the read: a later write
        names = {a for (a,) in self.clickhouse.run("learner_state_present", params)}  # loads the course again
        rows = self.clickhouse.run("learner_aggregates_course", {**params, **self.aggregate_params})
        state = aggregated_rows(tenant, course_id, names, (row[1:] for row in rows), version)
        self._insert_learners(state)
        self._wrote(tenant, [course_id], version)
        self.clickhouse.insert("learner_courses_insert", [[tenant, course_id, now_us()]])
        self.built.add((tenant, course_id))
        self._install(tenant, course_id, state, writes)  # what was just written: no read back
        return len(state)

    def _update_pairs(self, tenant: str, pairs: list[tuple[str, str]], version: int) -> None:
        """The rows of some (course, learner) pairs of a tenant, from one read of their statements."""
        named: dict[str, set[str]] = {}
        for course, actor in pairs:
            named.setdefault(course, set()).add(actor)
        statements: dict[str, list[tuple]] = {}  # per course, the learners' aggregated statements
        for course, *row in self.clickhouse.run_in_chunks(
                "learner_aggregates", {"tenant": tenant, "pairs": pairs, **self.aggregate_params}, key="pairs"):
            statements.setdefault(str(course), []).append(tuple(row))
        missing = [(course, actor) for course, actors in sorted(named.items())
                   for actor in sorted(actors - {row[0] for row in statements.get(course, ())})]
        tombstones: dict[str, set[str]] = {}
        if missing:  # tombstones only over rows that exist: an erased learner is never named again
            for course, actor in self.clickhouse.run_in_chunks(
                    "learner_state_present_among", {"tenant": tenant, "pairs": missing}, key="pairs"):
                tombstones.setdefault(str(course), set()).add(str(actor))
        states = {course: aggregated_rows(tenant, course, tombstones.get(course, ()), statements.get(course, ()),
                                          version) for course in sorted(named)}
        self._insert_learners([row for state in states.values() for row in state])
        self._wrote(tenant, sorted(named), version)
        for course, state in states.items():
            memory = self.courses.get((tenant, course))
            if memory is not None:
                memory.apply(state)
                # Named, without statements and without a row (erased, or a race loser removed): not counted.
                memory.forget(named[course] - {row[ACTOR] for row in state})

    def _wrote(self, tenant: str, courses: list[str], version: int) -> None:
        self.clickhouse.insert("learner_state_writes_insert", [[tenant, c, self.writer, version] for c in courses])

    def _course_clocks(self, tenant: str, courses: list[str], version: int) -> None:
        """Record the courses' inputs to the tenant clock from their learners in memory (after they changed)."""
        writes = self._foreign_writes(tenant, courses)
        changed: list[tuple[CourseState, tuple[int, int]]] = []
        for course in courses:
            state = self.course_state(tenant, course, writes.get(course, {}))
            clock = state.clock_input()
            if clock != state.clock_written:
                changed.append((state, clock))
        self.clickhouse.insert("analytics_course_clock_insert",
                               [[tenant, state.course_id, *clock, version] for state, clock in changed])
        for state, clock in changed:
            state.clock_written = clock

    def course_state(self, tenant: str, course_id: str, writes: dict[str, int] | None = None) -> CourseState:
        """The course in memory, loaded from ``learner_state`` when absent or when another process wrote learner
        rows of the course since it was loaded (``writes``: the course's :meth:`_foreign_writes`, read when None)."""
        if writes is None:
            writes = self._foreign_writes(tenant, [course_id]).get(course_id, {})
        state = self.courses.get((tenant, course_id))
        if state is not None and writes == state.writes:
            return state
        rows = self.clickhouse.run("learner_state_course", {"tenant": tenant, "course_id": course_id})
        return self._install(tenant, course_id, rows, writes)

    def _foreign_writes(self, tenant: str, courses: list[str]) -> dict[str, dict[str, int]]:
        """Per course, the last learner_state write of every other process to it (``learner_state_writes``)."""
        found: dict[str, dict[str, int]] = {}
        for course, writer, version in self.clickhouse.run("learner_state_writes",
                                                           {"tenant": tenant, "courses": courses}):
            if writer != self.writer:
                found.setdefault(str(course), {})[str(writer)] = int(version)
        return found

    def _statuses(self, tenant: str, courses: list[str]) -> dict[str, dict[str, str]]:
        """Per course, each present learner's status in ``learner_course_rows``."""
        found: dict[str, dict[str, str]] = {c: {} for c in courses}
        for course, actor, status in self.clickhouse.run("learner_course_statuses",
                                                         {"tenant": tenant, "courses": courses}):
            found[str(course)][str(actor)] = str(status)
        return found

    def _install(self, tenant: str, course_id: str, rows: list, writes: dict[str, int]) -> CourseState:
        """Hold the course in memory from its learner rows (present or not) and the learner_course statuses."""
        statuses = self._statuses(tenant, [course_id])[course_id]
        state = CourseState.load(tenant, course_id, rows, statuses.items())
        state.writes = writes
        self.courses[(tenant, course_id)] = state
        return state

    def _present_keys(self, name: str, tenant: str, courses: list[str]) -> dict[str, set[Any]]:
        """Per course, the keys present in a table kept per key (``name``: its query): a day or hour in UTC seconds,
        or a (cohort week in UTC seconds, week number) pair."""
        found: dict[str, set[Any]] = {c: set() for c in courses}
        if courses:
            for course, *values in self.clickhouse.run(name, {"tenant": tenant, "courses": courses}):
                key = tuple(int(v) for v in values)
                found[str(course)].add(key[0] if len(key) == 1 else key)
        return found

    def _insert_learners(self, state: list[list[Any]]) -> None:
        start = time.perf_counter()
        self.clickhouse.insert("learner_state_insert", state)
        metrics.INSERT_LATENCY.labels(table="learner_state").observe(time.perf_counter() - start)

    def tenant_clock(self, tenant: str) -> int:
        """The clock the tenant's slices are derived at, read from its learners' rows."""
        return clock_us(self.settings, self.clickhouse, tenant, from_learners=True)  # analytics_course_clock

    def derive(self, tenant: str, course_id: str, clock: int, *, started_us: int | None = None) -> Recomputed:
        """:meth:`derive_tenant` for one course."""
        return self.derive_tenant(tenant, [course_id], clock, started_us=started_us)[0]

    def derive_tenant(self, tenant: str, courses: Iterable[str], clock: int, *,
                      started_us: int | None = None) -> list[Recomputed]:
        """Write every table of some slices of one tenant under a new version, from the courses in memory at
        ``clock``; return them with the at-risk events to publish.

        Nothing here reads a statement or a learner row, except when a course is first loaded; the courses share
        each read and each table's write (one round trip per table, not per course and table).
        """
        courses = sorted(courses)
        params = {"tenant": tenant, "courses": courses}
        try:
            latest = {str(c): int(v) for c, v in self.clickhouse.run("analytics_slice_latest", params)}
            structures: dict[str, list[tuple[str, int]]] = {}
            for course, module, position in self.clickhouse.run("analytics_course_modules", params):
                structures.setdefault(str(course), []).append((str(module), int(position)))
            writes = self._foreign_writes(tenant, courses)
            # One version for the round: its start (before its learner rows were recomputed: the highest version
            # read the newest learner rows, and a statement stored before that time is in it), above every
            # course's current version.
            version = max(started_us or now_us(), *(latest.get(c, 0) + 1 for c in courses))
            out: list[Recomputed] = []
            for course in courses:
                state = self.course_state(tenant, course, writes.get(course, {}))
                previous = latest.get(course, 0)
                if previous != state.published:
                    state.all_changed = True  # another process published since: write every learner row again
                derived = state.derive(clock, structures.get(course, []), self.thresholds)
                out.append(Recomputed(tenant, course, version, previous, clock, [], state, derived))
            self._write(tenant, version, out)
        except BaseException:
            self._drop(tenant, courses)
            raise
        detected = now_us()
        for recomputed in out:
            assert recomputed.derived is not None
            recomputed.events = [dropoff.at_risk_event(tenant, recomputed.course_id, change,
                                                       clock=self.settings.analytics_clock, detected_us=detected)
                                 for change in recomputed.derived.changes]
        return out

    def _write(self, tenant: str, version: int, recomputed: list[Recomputed]) -> None:
        full = sorted(r.course_id for r in recomputed if r.derived is not None and r.derived.full)
        gone = self._gone_rows(tenant, [r for r in recomputed if r.course_id in full]) if full else {}
        values: dict[SliceTable, list[list[Any]]] = {table: [] for table in ALL_TABLES}
        copies: dict[SliceTable, list[tuple[str, int]]] = {table: [] for table in ALL_TABLES}
        for r in recomputed:
            derived = r.derived
            assert derived is not None
            written = {engagement.ENGAGEMENT_DAILY: derived.daily, engagement.ENGAGEMENT_HOURLY: derived.hourly,
                       dropoff.LEARNER_COURSE: derived.learner_rows, dropoff.COURSE_FUNNEL: derived.funnel,
                       dropoff.COURSE_SUMMARY: derived.summary, dropoff.AT_RISK_LEARNERS: derived.at_risk,
                       dropoff.COURSE_TIME_ON_TASK: derived.time_on_task,
                       cohorts.COHORT_RETENTION: derived.cohorts}
            for table, rows in gone.get(r.course_id, {}).items():
                written[table] = written[table] + rows  # type: ignore[operator]
            for table, rows in written.items():
                if rows is None:  # no learner changed: the previous version's rows are this version's
                    copies[table].append((r.course_id, r.previous))
                else:
                    values[table] += [[tenant, *row, version] for row in rows]
        with self.clickhouse.client() as client:
            for table in ALL_TABLES:
                start = time.perf_counter()
                if copies[table]:
                    client.execute(table.copy_sql(), bind({"tenant": tenant, "version": version,
                                                           "previous": copies[table]}))
                if values[table]:
                    client.execute(table.values_sql(), values[table])
                metrics.INSERT_LATENCY.labels(table=table.table).observe(time.perf_counter() - start)

    def _gone_rows(self, tenant: str, rewritten: list[Recomputed]) -> dict[str, dict[SliceTable, list[list[Any]]]]:
        """Per course written whole (after a load, or a new module order), the rows of the tables kept per key
        that the course in memory no longer has: every other learner, day, hour and cohort row present in the
        tables is marked gone (``present = 0``)."""
        courses = [r.course_id for r in rewritten]
        statuses = self._statuses(tenant, courses)
        days = self._present_keys("engagement_daily_present", tenant, courses)
        hours = self._present_keys("engagement_hourly_present", tenant, courses)
        cohort_keys = self._present_keys("cohort_retention_present", tenant, courses)
        out: dict[str, dict[SliceTable, list[list[Any]]]] = {}
        for r in rewritten:
            state, derived, course = r.state, r.derived, r.course_id
            assert state is not None and derived is not None
            kept = {(c, w) for c, last in derived.cohort_last.items() for w in range(last + 1)}
            out[course] = {
                dropoff.LEARNER_COURSE: [state.gone_row(a)
                                         for a in sorted(set(statuses[course]) - set(state.learners))],
                engagement.ENGAGEMENT_DAILY: [state.gone_engagement(d, date_of)
                                              for d in sorted(days[course] - set(state.days))],
                engagement.ENGAGEMENT_HOURLY: [state.gone_engagement(h, int)
                                               for h in sorted(hours[course] - set(state.hours))],
                cohorts.COHORT_RETENTION: [state.gone_cohort_row(c, w) for c, w in sorted(cohort_keys[course] - kept)],
            }
        return out

    def recompute(self, tenant: str, course_id: str, learners: set[str] | None = None) -> Recomputed:
        """Recompute ``learners`` (None: all) of the slice, then derive the slice at the tenant's clock."""
        started = now_us()
        self.update_learners(tenant, course_id, learners, started)
        return self.derive(tenant, course_id, self.tenant_clock(tenant), started_us=started)

    def publish(self, recomputed: Recomputed) -> None:
        """:meth:`publish_all` for one slice."""
        self.publish_all([recomputed])

    def publish_all(self, recomputed: list[Recomputed]) -> None:
        """The swap: from now on the public views show each slice's ``version`` (one write for all of them)."""
        if not recomputed:
            return
        now = now_us()
        self.clickhouse.insert("analytics_slices_insert", [[r.tenant, r.course_id, r.version, r.clock_us, now]
                                                           for r in recomputed])
        self.clickhouse.insert("analytics_clock_insert", [[tenant, clock, now] for tenant, clock in
                                                          sorted({(r.tenant, r.clock_us) for r in recomputed})])
        for r in recomputed:
            if r.state is not None and r.derived is not None:
                r.state.committed(r.derived, r.version)

    def refresh(self, tenant: str, course_id: str, learners: set[str] | None = None) -> Recomputed:
        """Recompute and publish one slice without Kafka (backfill, tests); events are returned, not sent."""
        recomputed = self.recompute(tenant, course_id, learners)
        self.publish(recomputed)
        return recomputed

    def lagging_slices(self, tenant: str, clock: int) -> list[Slice]:
        """Event time: the tenant's slices computed at another clock than ``clock`` (the one just read).

        The watermark moves for the whole tenant, and it moves only when the tenant's learner rows change, which
        always happens in a refresh round: re-marking the rest from there (to be derived again, no learner
        recomputed) keeps every slice on the tenant's clock without scanning anything on a timer.
        """
        if self.settings.analytics_clock == "wall":
            return []  # every slice lags a moving wall clock; the timer handles that mode
        rows = self.clickhouse.run("analytics_tenant_lagging", {"tenant": tenant, "clock_us": clock})
        return [(tenant, str(course)) for (course,) in rows]

    def cleanup(self, older_than_s: float) -> None:
        """Delete the versions older than ``older_than_s`` and below their slice's newest published one from every
        data table: superseded versions, and those of rounds that crashed before publishing (``cleanup_sql``)."""
        before = now_us() - int(older_than_s * US)
        with self.clickhouse.client() as client:
            published = {(str(t), str(c)): int(v) for t, c, v in client.execute(query("analytics_published").sql)}
            for table in ALL_TABLES:
                if not table.cleanup_sql():
                    continue
                bounds = {}
                for tenant, course, oldest in client.execute(table.garbage_sql(), {"before_us": before}):
                    bound = min(published.get((str(tenant), str(course)), 0), before)
                    if int(oldest) < bound:
                        bounds[f"{tenant}\0{course}"] = bound
                keys = sorted(bounds)
                for start in range(0, len(keys), CLEANUP_SLICES):  # a mutation's text stays well under 256 KiB
                    chunk = keys[start:start + CLEANUP_SLICES]
                    client.execute(table.cleanup_sql(), {"before_us": before, "slices": chunk,
                                                          "bounds": [bounds[k] for k in chunk]})

    def stale_slices(self) -> list[Slice]:
        """Slices whose statuses were computed at another clock than their tenant's last recorded one (event
        time), or too long ago (wall clock). Reads only ``analytics_slices`` and ``analytics_clock``."""
        lateness_us = int(self.settings.analytics_lateness_s * US)
        if self.settings.analytics_clock == "wall":
            stale_before = now_us() - lateness_us - int(self.settings.analytics_wall_stale_s * US)
            rows = self.clickhouse.run("analytics_stale_slices_wall", {"stale_before_us": stale_before})
        else:
            rows = self.clickhouse.run("analytics_stale_slices")
        return [(str(t), str(c)) for t, c in rows]


class DirtyMarker:
    """Sends slice markers from inside the worker (Faust producer), awaiting the broker's acknowledgement."""

    def __init__(self, topic: faust.TopicT, refresher: SliceRefresher, max_backoff_s: float) -> None:
        self.topic = topic
        self.refresher = refresher
        self.max_backoff_s = max_backoff_s

    async def send(self, slices: Iterable[Slice]) -> None:
        """Re-derive ``slices`` (no learner changed: an empty learner list); wait until the broker has them."""
        await self.send_learners({s: set() for s in slices})

    async def send_learners(self, work: dict[Slice, set[str]]) -> None:
        """One marker per slice naming its changed learners; returns once the broker has them all."""
        # force=True: send now, not attached to the current event (attached sends wait for its ack).
        pending = []
        for (tenant, course), learners in sorted(work.items()):
            ordered = sorted(learners)
            # Bounded messages: a huge batch of one course becomes several markers (the round merges them).
            for start in range(0, max(len(ordered), 1), LEARNERS_CHUNK):
                value = learners_marker_value(tenant, course, ordered[start:start + LEARNERS_CHUNK])
                pending.append(await self.topic.send(key=marker_key(tenant, course), value=value, force=True))
        for future in pending:
            await future

    async def mark(self, touched: Touched) -> None:
        """Mark the learners a written sink batch touched; returns only once the markers are in Kafka."""
        loop = asyncio.get_running_loop()

        async def attempt() -> None:
            work = await loop.run_in_executor(None, self.refresher.dirty_learners, touched)
            await self.send_learners(work)

        await retry_forever(attempt, "marking analytics learners dirty", self.max_backoff_s)


def refresh_pause(busy_s: float, share: float, max_pause_s: float) -> float:
    """Seconds to pause after a refresh round that took ``busy_s``, so rounds take at most ``share`` of the time."""
    return min(max_pause_s, busy_s * (1 / share - 1))


def attach_analytics(app: faust.App, settings: Settings, refresher: SliceRefresher | None = None,
                     sink_lagging: Callable[[], bool] = lambda: True) -> DirtyMarker:
    """Register the refresh agent and the clock timer on ``app``; return the marker the sink agent uses.

    ``sink_lagging`` says whether this worker's sink is behind; the refresh pauses between rounds only then.
    """
    refresher = refresher or SliceRefresher(settings)
    dirty = app.topic(settings.analytics_dirty_topic, key_serializer="raw", value_serializer="raw")
    at_risk = app.topic(settings.analytics_at_risk_topic, key_serializer="raw", value_serializer="raw")
    marker = DirtyMarker(dirty, refresher, settings.sink_retry_max_s)

    async def refresh_tenant(tenant: str, work: dict[str, set[str] | None], started_us: int) -> None:
        loop = asyncio.get_running_loop()
        # 1. The learners the markers name (every learner of a course marked without a list), all courses at once.
        step = time.perf_counter()
        await retry_forever(lambda: loop.run_in_executor(None, refresher.update_tenant, tenant, work, now_us()),
                            f"recomputing the learners of {len(work)} analytics slices of {tenant}",
                            settings.sink_retry_max_s)
        metrics.ANALYTICS_ROUND.labels(step="learners").observe(time.perf_counter() - step)
        step = time.perf_counter()
        # 2. The tenant's clock, read once after all its learner rows moved.
        clock = await retry_forever(lambda: loop.run_in_executor(None, refresher.tenant_clock, tenant),
                                    f"reading the analytics clock of {tenant}", settings.sink_retry_max_s)

        # 3. The courses derived from their learners at that clock, the events sent, then the versions published.
        async def derive() -> None:
            recomputed = await loop.run_in_executor(None, lambda: refresher.derive_tenant(
                tenant, list(work), clock, started_us=started_us))
            # Events before the swap: a crash in between replays them with the same event_id (at least once);
            # swapping first could lose them, since the next recompute compares with the swapped version.
            pending = [await at_risk.send(key=dropoff.event_key(e), value=orjson.dumps(e), force=True)
                       for r in recomputed for e in r.events]
            for future in pending:
                await future
            await loop.run_in_executor(None, refresher.publish_all, recomputed)

        await retry_forever(derive, f"deriving {len(work)} analytics slices of {tenant}", settings.sink_retry_max_s)
        metrics.ANALYTICS_ROUND.labels(step="derive").observe(time.perf_counter() - step)

        # 4. The tenant's other slices follow its clock (derived again; no learner changed there).
        async def follow() -> None:
            await marker.send(await loop.run_in_executor(None, refresher.lagging_slices, tenant, clock))

        await retry_forever(follow, f"re-marking the lagging slices of {tenant}", settings.sink_retry_max_s)

    async def refresh_round(work: dict[Slice, set[str] | None]) -> None:
        started_us = now_us()
        tenants: dict[str, dict[str, set[str] | None]] = {}
        for (tenant, course_id), learners in sorted(work.items()):
            tenants.setdefault(tenant, {})[course_id] = learners
        for tenant, courses in tenants.items():
            await refresh_tenant(tenant, courses, started_us)

    @app.agent(dirty, name="analytics-refresh")
    async def refresh(stream: faust.StreamT) -> None:
        # The take window is the debounce: many markers of one slice within it cost one recompute.
        async for events in stream.noack_take(10_000, within=settings.analytics_refresh_s):
            started = time.perf_counter()
            work = merge_work(w for e in events if (w := parse_work(e.message.value)) is not None)
            await refresh_round(work)
            busy = time.perf_counter() - started
            metrics.EVENTS_PROCESSED.labels(processor="analytics-refresh").inc(len(events))
            metrics.ANALYTICS_ROUND_SLICES.observe(len(work))
            metrics.ANALYTICS_ROUND.labels(step="round").observe(busy)
            if busy > SLOW_ROUND_S:
                log.info("analytics round: %d markers, %d slices, %.2f s", len(events), len(work), busy)
            for event in events:
                await stream.ack(event)
            # When the sink falls behind, every slice is dirty again at once: without a pause the refresh would take
            # as much of ClickHouse and the worker as it can get, away from ingest. Markers arriving meanwhile wait
            # in the stream and are merged into one recompute per slice. While the sink keeps up, the pause only
            # delayed the analytics (p99 5.6 s with it, 3.4 s without it at 1M, docs/benchmarks.md).
            if sink_lagging():
                pause = refresh_pause(busy, settings.analytics_busy_share, settings.analytics_max_pause_s)
                metrics.ANALYTICS_PAUSED.inc(pause)
                await asyncio.sleep(pause)

    # One worker is enough (recomputes are idempotent, so a second would only waste work): Faust's leader.
    @app.timer(settings.analytics_tick_s, on_leader=True)
    async def tick() -> None:
        loop = asyncio.get_running_loop()
        try:
            stale = await loop.run_in_executor(None, refresher.stale_slices)
            await marker.send(stale)
        except Exception as exc:  # the next tick tries again
            log.warning("analytics clock tick failed (%s: %s)", type(exc).__name__, exc)

    if settings.analytics_cleanup_s > 0:
        @app.timer(settings.analytics_cleanup_s, on_leader=True)
        async def cleanup() -> None:
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, refresher.cleanup, settings.analytics_cleanup_s)
            except Exception as exc:  # garbage only costs disk; the next run tries again
                log.warning("analytics cleanup failed (%s: %s)", type(exc).__name__, exc)

    return marker
