"""Shared pieces of the analytics processors: slice tables, query parameters, the clock, learner markers.

A *slice* is one (tenant, course_id). Every analytics table is a function of the slice's non-voided raw
statements (plus the course structure and the clock), defined by a named batch query over ``statements`` in
``schemas/queries/analytics_*.sql``. The stream keeps one row per learner and course (``learner_state``,
streams/learners.py), recomputing only the learners a batch touched; the worker that owns a course keeps those rows
and the course's sums in memory (streams/course_state.py) and the refresh agent (``streams/refresh.py``) writes
each course-level table from them under a new version. The written rows equal the batch query's rows;
tests/integration/test_analytics.py checks it. See docs/metrics.md.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

from lrs.core.config import Settings
from lrs.core.kafka.markers import (  # noqa: F401 (re-exported for the workers)
    Work,
    learners_marker_value,
    marker_key,
    marker_value,
    parse_marker,
    parse_work,
)
from lrs.core.store.clickhouse import ClickHouse

US = 1_000_000
DAY_US = 86_400 * US
Slice = tuple[str, str]
# A regex that matches nothing: "no certificate activity types configured".
NEVER = r"[^\s\S]"


@dataclass(frozen=True)
class SliceTable:
    """One public analytics table: its data table, its view and its batch query.

    ``query`` is the batch definition over the raw statements; the refresh writes the same rows from the course's
    learners held in memory (streams/course_state.py).
    """

    view: str
    query: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    # True when no row depends on the clock: a slice derived again only because the clock moved copies them.
    clock_free: bool = False
    # Kept as the newest row per key (only changed keys written, ``present = 0`` removes one) instead of one full
    # copy per version of the course, whose rows would grow with the course's history.
    per_key: bool = False
    # Kept per learner (one row each, newest version wins) instead of per version of the course: these columns
    # are computed by the view from the course's published clock, not stored.
    per_learner_computed: tuple[str, ...] = ()

    @property
    def kept_per_key(self) -> bool:
        """Whether the data table holds the newest row per key (``<view>_rows``) rather than versions."""
        return self.per_key or bool(self.per_learner_computed)

    @property
    def table(self) -> str:
        """The data table behind the view: ``<view>_data`` (versions of the course), or ``<view>_rows``."""
        return f"{self.view}_rows" if self.kept_per_key else f"{self.view}_data"

    @property
    def stored_columns(self) -> tuple[str, ...]:
        """The columns written (before ``version``); a table kept per key also stores ``present``."""
        if not self.kept_per_key:
            return self.columns
        return (*(c for c in self.columns if c not in self.per_learner_computed), "present")

    def values_sql(self) -> str:
        """``INSERT INTO <table> ... VALUES``: rows (stored columns, then the version) passed as data."""
        return f"INSERT INTO {self.table} ({', '.join(self.stored_columns)}, version) VALUES"

    def copy_sql(self) -> str:
        """Copy the rows of some slices of a tenant, each at its ``(course_id, version)`` in ``%(previous)s``, to
        ``%(version)s`` (clock-free tables, no learner changed: the same rows a derivation would write)."""
        cols = ", ".join(self.columns)
        return (f"INSERT INTO {self.table} ({cols}, version) SELECT {cols}, toUInt64(%(version)s) FROM {self.table} "
                "WHERE tenant = %(tenant)s AND (course_id, version) IN %(previous)s")

    def garbage_sql(self) -> str:
        """Per slice, the oldest version below ``%(before_us)s``: whether it has rows for :meth:`cleanup_sql`. "" for
        a table kept per key."""
        if self.kept_per_key:
            return ""
        return (f"SELECT tenant, course_id, min(version) FROM {self.table} WHERE version < %(before_us)s "
                "GROUP BY tenant, course_id")

    def cleanup_sql(self) -> str:
        """Delete the rows of some slices' versions below ``%(before_us)s`` and below each slice's bound (its newest
        published version, read just before): ``%(slices)s`` (``tenant + NUL + course_id``) and ``%(bounds)s``,
        arrays. A mutation; "" for a table kept per key (nothing to clean up).

        Readers never lose rows: the published version stays, and so does any version above it, a round in flight
        (written, not yet published) however old: a round's version is its start, and a round held up by a
        ClickHouse outage or a big course's rebuild writes its rows long after that. Published versions only grow,
        so a bound read before the mutation never reaches a round in flight. Literal bounds, no subquery: current
        ClickHouse refuses a mutation with a subquery on a replicated table (it "may be nondeterministic"), and
        18.16 fails one whose subquery reads a subquery.
        """
        if self.kept_per_key:
            return ""
        return (f"ALTER TABLE {self.table} DELETE WHERE version < %(before_us)s "
                "AND version < transform(concat(tenant, '\\0', course_id), %(slices)s, %(bounds)s, toUInt64(0))")

    def select_view_sql(self) -> str:
        """The public view's rows of one tenant, in key order (for readers and tests)."""
        return (f"SELECT {', '.join(self.columns)} FROM {self.view} WHERE tenant = %(tenant)s "
                f"ORDER BY {', '.join(self.key)}")


def split_list(value: str) -> list[str]:
    """A comma-separated setting as a list."""
    return [item.strip() for item in value.split(",") if item.strip()]


def certificate_pattern(types: list[str]) -> str:
    """A regex over the compact statement JSON that finds an activity of one of ``types``."""
    if not types:
        return NEVER
    return '"type":"(' + "|".join(re.escape(t) for t in types) + ')"'


def query_params(settings: Settings, tenant: str, courses: list[str], clock_us: int) -> dict[str, Any]:
    """Parameters of every ``analytics_*`` batch query for ``courses`` of ``tenant`` at ``clock_us``."""
    verbs = split_list(settings.analytics_certificate_verbs) or [""]  # IN () is not valid SQL
    return {
        "tenant": tenant,
        "courses": list(courses),
        "clock_us": int(clock_us),
        "cap_us": int(settings.analytics_session_cap_s * US),
        "at_risk_us": int(settings.analytics_at_risk_days * DAY_US),
        "dropped_us": int(settings.analytics_dropped_days * DAY_US),
        "active_us": int(settings.analytics_active_days * DAY_US),
        "cert_verbs": verbs,
        "cert_pattern": certificate_pattern(split_list(settings.analytics_certificate_types)),
    }


def now_us() -> int:
    """Wall-clock time in microseconds."""
    return int(time.time() * US)


def clock_us(settings: Settings, clickhouse: ClickHouse, tenant: str, *, from_learners: bool = False) -> int:
    """The clock statuses are computed at: the tenant's event-time watermark, or now in wall-clock mode.

    Event time makes a replay of the same statements give the same answers; wall clock suits live
    deployments where a learner who stops sending statements must still become at risk. A statement's time
    counts for the watermark at most up to its ``stored`` time, so a client clock set in the future cannot push
    the tenant's clock. ``from_learners``: read it from the courses' inputs kept from the learners' rows
    (``analytics_course_clock``, what the refresh does) instead of the raw statements (the batch definition); the
    two agree once the learners' rows are current.
    """
    lateness_us = int(settings.analytics_lateness_s * US)
    if settings.analytics_clock == "wall":
        return now_us() - lateness_us
    name = "analytics_learner_clock" if from_learners else "analytics_watermark"
    watermark, count = clickhouse.run(name, {"tenant": tenant, "lateness_us": lateness_us})[0]
    return int(watermark) if count else 0
