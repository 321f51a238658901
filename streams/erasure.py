"""GDPR erasure, bounded and asynchronous: it never holds up the sink.

The sink only records a request when it reaches the erasure message in the learner's partition (``accept``: one
insert; what the learner sent before in that partition is written by then, and the fence below keeps out what
comes later from any partition). The eraser (``step``, run on a timer by one
worker, the group leader) does the rest, one short pass at a time:

1. ``pending``/due ``failed``: finds every table with a learner column (``erasure_tables``: by column, so a new
   table is covered without code changes), what is to be recomputed afterwards and the attachments only the
   learner's statements use; records them (state ``applying``); issues one ALTER DELETE per table.
2. ``applying``: done once no mutation of the attempt is unfinished; the attempt fails if its mutations have not
   finished within ``erasure_timeout_s`` (or if anything raised), and is retried with back-off from
   ``next_try_us`` (deletes are idempotent).
3. ``done``: the courses are re-marked (analytics recomputed without the learner), the request keeps counts and
   hashes only, and the erasure is logged in ``erasures`` (what ``lrs erase --wait`` reads).

States are rows of ``erasure_requests`` (newest wins), so a worker restart or a new group leader loses nothing.

The sink keeps out what an erasure covers when it arrives after it (``ErasureFence``: a redelivered message, or one
the LRS published after the erasure message): a statement naming the learner, stored before the request.

The same passes remove the losing versions of statement ids two sinks inserted at once (``statement_removals``,
streams/removals.py): issued, checked and retried the same way; once done, the loser's course is re-marked.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from lrs.core.config import Settings
from lrs.core.kafka.envelope import Erasure
from lrs.core.kafka.markers import LEARNER_LEFT, Slice
from lrs.core.retry import backoff_s
from lrs.core.store.clickhouse import ClickHouse, bind
from lrs.core.store.queries import query
from streams import metrics
from streams.removals import Removal, RowRecord, removal_statements

log = logging.getLogger(__name__)

# Per learner column: the delete template and the table name written in it (replaced by each table's name).
TEMPLATES = (("related_agents", "erase_by_related_agents", "statements"),
             ("actor_ifi", "erase_by_actor", "learner_course_rows"),
             ("agent", "erase_by_agent", "documents"))
US = 1_000_000


def now_us() -> int:
    """Wall-clock time in microseconds (the default clock of the eraser)."""
    return time.time_ns() // 1000


def ifi_hash(ifi: str) -> str:
    """What the logs keep of one identifier (and what the sink's fence matches a statement's agents by)."""
    return hashlib.sha256(ifi.encode()).hexdigest()


def ifi_hashes(ifis: tuple[str, ...] | list[str]) -> list[str]:
    """What the logs keep of the learner's identifiers."""
    return sorted(ifi_hash(i) for i in ifis)


@dataclass
class Request(RowRecord):
    """One row of ``erasure_requests`` (field order = column order of the queries)."""

    tenant: str
    request_id: str
    ifi_sha256: list[str]
    ifis: list[str]
    requested_us: int
    state: str
    attempts: int = 0
    issued_us: int = 0
    next_try_us: int = 0
    error: str = ""
    attachments: list[str] = field(default_factory=list)
    work_courses: list[str] = field(default_factory=list)
    work_learners: list[str] = field(default_factory=list)
    statements_erased: int = 0
    documents_erased: int = 0
    attachments_erased: int = 0
    updated_us: int = 0

    def work(self) -> dict[Slice, set[str]]:
        """The analytics to recompute: per (tenant, course), the other learners whose rows change, and
        ``LEARNER_LEFT`` (stored as ``""``) where the erased learner's own rows were deleted."""
        result: dict[Slice, set[str]] = {}
        for course, learner in zip(self.work_courses, self.work_learners, strict=True):
            result.setdefault((self.tenant, course), set()).add(learner or LEARNER_LEFT)
        return result


def delete_statements(clickhouse: ClickHouse) -> list[tuple[str, str, str]]:
    """``(table, query name, SQL)``: one ALTER DELETE per table holding learner data, from ``erasure_tables``."""
    statements = []
    for table, columns in clickhouse.run("erasure_tables"):
        for column, name, placeholder in TEMPLATES:  # the first matching column decides (related_agents first)
            if column in columns:
                statements.append((table, name, query(name).for_table("ALTER TABLE", placeholder, table)))
                break
    return statements


class ErasureFence:
    """What the sink must not write any more: a statement naming an agent an erasure was requested for, stored
    (accepted by the LRS) before that request.

    Partition order alone does not keep those out. A rebalance or a crash redelivers messages whose offsets were
    not committed yet, and they can come back after the erasure they precede was applied; the LRS can publish a
    statement it accepted just before the request after the erasure message. Written then, they would outlive the
    erasure. Requests are read from ``erasure_requests`` (the SHA-256 of each identifier, which a request keeps
    after it is done) before every batch: only the rows changed since the last read, less a margin for clocks.
    A request recorded by another sink between that read and the batch's insert may have had its deletes run
    before the insert: :meth:`covering`, after a read following the insert, names the requests to apply again.
    """

    MARGIN_US = 300 * US

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse
        self.requested: dict[str, dict[str, int]] = {}  # tenant -> identifier SHA-256 -> latest requested_us
        self.request_ids: dict[tuple[str, str], str] = {}  # (tenant, SHA-256) -> the request of that requested_us
        self.read_until_us: int | None = None  # newest updated_us read (None: nothing read yet)

    def refresh(self) -> None:
        """Read the requests changed since the last read (all of them the first time)."""
        since = 0 if self.read_until_us is None else max(0, self.read_until_us - self.MARGIN_US)
        newest = self.read_until_us or 0
        for tenant, request_id, hashes, requested_us, updated_us in self.clickhouse.run("erasure_fence",
                                                                                        {"since_us": since}):
            self.add(str(tenant), hashes, int(requested_us), str(request_id))
            newest = max(newest, int(updated_us))
        self.read_until_us = newest

    def add(self, tenant: str, hashes: Iterable[str], requested_us: int, request_id: str = "") -> None:
        """Fence the identifiers (SHA-256) of one request off from what was stored up to ``requested_us``."""
        fenced = self.requested.setdefault(tenant, {})
        for digest in hashes:
            if requested_us >= fenced.get(digest, 0):
                fenced[digest] = requested_us
                if request_id or (tenant, digest) not in self.request_ids:
                    self.request_ids[(tenant, digest)] = request_id

    def covering(self, tenant: str, agents: Iterable[str], stored_us: int) -> dict[str, set[str]]:
        """The requests (id -> the identifiers among ``agents`` they name) that keep out a statement of ``tenant``
        naming ``agents``, stored at ``stored_us``: {} when :meth:`admits` it."""
        fenced = self.requested.get(tenant)
        found: dict[str, set[str]] = {}
        if fenced:
            for agent in agents:
                digest = ifi_hash(agent)
                if fenced.get(digest, -1) >= stored_us:
                    found.setdefault(self.request_ids.get((tenant, digest), ""), set()).add(agent)
        return found

    def admits(self, tenant: str, agents: Iterable[str], stored_us: int) -> bool:
        """Whether a statement of ``tenant`` naming ``agents`` (identifiers), stored at ``stored_us``, may be
        written. Hashes only for tenants that have erasures."""
        fenced = self.requested.get(tenant)
        if not fenced:
            return True
        return all(fenced.get(ifi_hash(a), -1) < stored_us for a in agents)


class Eraser:
    """Records erasure requests (for the sink) and moves them forward (for the timer)."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse | None = None,
                 clock: Callable[[], int] = now_us) -> None:
        self.settings = settings
        self.clickhouse = clickhouse or ClickHouse(settings, size=1)
        self.clock = clock

    # --- the sink ------------------------------------------------------------------------------------------

    def accept(self, erasure: Erasure) -> None:
        """Record the request as ``pending`` (one insert). A redelivered or replayed message makes it pending
        again, which re-applies it (idempotent). The counts of an earlier run are kept, and so are the analytics and
        attachments an unfinished attempt found: its deletes may have run, so a new attempt no longer finds them,
        and without them the courses would keep the learner in the workers' memory."""
        self._pend(erasure, None)
        log.info("erasure %s of tenant %s queued", erasure.request_id, erasure.tenant)

    def reopen(self, tenant: str, request_id: str, ifis: Iterable[str]) -> None:
        """Apply a recorded request again, to rows a sink wrote after its deletes may have run (``ifis``: the
        identifiers of those rows it names, as a done request no longer keeps them). Pending again, like a
        redelivered request: its identifiers and hashes are kept and ``ifis`` added."""
        found = self.clickhouse.run("erasure_request", {"tenant": tenant, "request_id": request_id})
        if not found:
            log.warning("erasure %s of tenant %s not found: not applied again", request_id, tenant)
            return
        previous = Request.from_row(found[0])
        names = tuple(sorted({*previous.ifis, *ifis}))
        self._pend(Erasure(tenant, request_id, names, previous.requested_us), previous)
        log.info("erasure %s of tenant %s applied again: a batch wrote what it covers after its read", request_id,
                 tenant)

    def _pend(self, erasure: Erasure, previous: Request | None) -> None:
        if previous is None:
            found = self.clickhouse.run("erasure_request", {"tenant": erasure.tenant,
                                                            "request_id": erasure.request_id})
            previous = Request.from_row(found[0]) if found else None
        request = Request(erasure.tenant, erasure.request_id, ifi_hashes(erasure.ifis), list(erasure.ifis),
                          erasure.requested_us, "pending", updated_us=self.clock())
        if previous is not None:
            # A done request keeps only hashes: those of identifiers not named again stay fenced.
            request = replace(request, ifi_sha256=sorted({*request.ifi_sha256, *previous.ifi_sha256}),
                              attempts=previous.attempts, statements_erased=previous.statements_erased,
                              documents_erased=previous.documents_erased,
                              attachments_erased=previous.attachments_erased,
                              attachments=previous.attachments, work_courses=previous.work_courses,
                              work_learners=previous.work_learners)
        self._save(request)

    # --- the timer -----------------------------------------------------------------------------------------

    def step(self) -> list[tuple[Request | Removal, dict[Slice, set[str]]]]:
        """One pass over the open requests and removals; those finished in it, with the analytics they changed.

        Never waits on ClickHouse's mutations: an attempt is checked on the next pass.
        """
        finished: list[tuple[Request | Removal, dict[Slice, set[str]]]] = []
        opened: list[Request | Removal] = [Request.from_row(r) for r in self.clickhouse.run("erasure_requests_open")]
        opened += [Removal.from_row(r) for r in self.clickhouse.run("statement_removals_open")]
        for request in opened:
            issuing = request.state == "pending" or (request.state == "failed" and request.next_try_us <= self.clock())
            try:
                if issuing:
                    self._issue(request) if isinstance(request, Request) else self._issue_removal(request)
                elif request.state == "applying" and self._check(request):
                    work = request.work()
                    # Learner rows left these courses: a worker holding one in memory loads it again.
                    self.clickhouse.insert("learner_state_writes_insert", [
                        [tenant, course, f"eraser:{request.request_id}", self.clock()] for tenant, course in work])
                    finished.append((request, work))
            except Exception as exc:  # this request fails this attempt; the others go on
                self._fail(replace(request, attempts=request.attempts + 1) if issuing else request,
                           f"{type(exc).__name__}: {exc}")
        return finished

    def finish(self, request: Request | Removal) -> None:
        """Record a request whose analytics were re-marked as done: counts and hashes only from now on."""
        now = self.clock()
        if isinstance(request, Removal):
            self._save(replace(request, state="done", error="", updated_us=max(now, request.updated_us + 1)))
            log.info("%s of tenant %s applied", request.request_id, request.tenant)
            return
        if self._requested_again(request):  # applied again by the next pass, then done
            log.info("erasure %s of tenant %s was requested again while it was applied; applying it again",
                     request.request_id, request.tenant)
            return
        self.clickhouse.insert("erasure_insert", [[request.tenant, request.request_id, request.ifi_sha256,
                                                   request.requested_us, now, request.statements_erased,
                                                   request.documents_erased]])
        self._save(replace(request, state="done", ifis=[], work_courses=[], work_learners=[], error="",
                           updated_us=max(now, request.updated_us + 1)))
        self.clickhouse.run("erasure_request_merge")  # the older rows with the identifiers go now
        metrics.ERASURES.inc()
        log.info("erasure %s applied: %s statements, %s documents, %s attachments", request.request_id,
                 request.statements_erased, request.documents_erased, request.attachments_erased)

    def _requested_again(self, request: Request) -> bool:
        """Whether the sink queued the request again (a redelivered erasure message) after this pass read it: its
        ``done`` row, written later, would win over that ``pending`` one and nothing would apply it again."""
        found = self.clickhouse.run("erasure_request", {"tenant": request.tenant, "request_id": request.request_id})
        return bool(found) and Request.from_row(found[0]).updated_us > request.updated_us

    def _issue(self, request: Request) -> None:
        params = {"tenant": request.tenant, "ifis": request.ifis}
        deletes = delete_statements(self.clickhouse)
        statements, documents, _ = self.clickhouse.run("erasure_counts", params)[0]
        # Read before the deletes (a retry after them finds less, so what an earlier attempt found is kept).
        work = set(zip(request.work_courses, request.work_learners, strict=True))
        erased = set(request.ifis)
        for course, learner in self.clickhouse.run("erasure_learners", params):
            # The erased learner's own rows are deleted, not recomputed (a recompute would write their id again).
            work.add((course, "" if learner in erased else learner))
        attachments = set(request.attachments) | {h for (h,) in self.clickhouse.run("erasure_attachments", params)}
        now = self.clock()
        ordered = sorted(work)
        applying = replace(
            request, state="applying", attempts=request.attempts + 1, issued_us=now, error="",
            attachments=sorted(attachments), work_courses=[c for c, _ in ordered],
            work_learners=[learner for _, learner in ordered],
            statements_erased=max(int(statements), request.statements_erased),
            documents_erased=max(int(documents), request.documents_erased),
            attachments_erased=max(len(attachments), request.attachments_erased),
            updated_us=max(now, request.updated_us + 1))
        self._save(applying)  # before the deletes: a retry after a crash still knows what they will remove
        try:
            with self.clickhouse.client() as client:
                for table, _, sql in deletes:
                    client.execute(sql, bind(params))
                    self.clickhouse.after_mutation(client, table)  # on a replicated cluster: let it finish
                if attachments:
                    client.execute(query("erase_attachments").sql,
                                   bind({"tenant": request.tenant, "hashes": sorted(attachments)}))
                    self.clickhouse.after_mutation(client, "attachments")
        except Exception as exc:
            self._fail(applying, f"{type(exc).__name__}: {exc}")

    def _issue_removal(self, removal: Removal) -> None:
        now = self.clock()
        deletes = removal_statements(self.clickhouse)
        applying = replace(removal, state="applying", attempts=removal.attempts + 1, issued_us=now, error="",
                           updated_us=max(now, removal.updated_us + 1))
        self._save(applying)
        try:
            with self.clickhouse.client() as client:
                for table, _, sql in deletes:
                    client.execute(sql, bind(removal.params()))
                    self.clickhouse.after_mutation(client, table)
        except Exception as exc:
            self._fail(applying, f"{type(exc).__name__}: {exc}")

    def _check(self, request: Request | Removal) -> bool:
        if isinstance(request, Removal):
            deletes = removal_statements(self.clickhouse)
            tables = sorted({table for table, _, _ in deletes})
        else:
            deletes = delete_statements(self.clickhouse)
            tables = sorted({table for table, _, _ in deletes} | {"attachments"})
        # ClickHouse stamps mutations in whole seconds of its own clock: a second of margin either way.
        since_s = request.issued_us // US - 1
        pending = int(self.clickhouse.run("erasure_mutations_pending", {"tables": tables, "since_s": since_s})[0][0])
        if not pending:
            if isinstance(request, Request) and (left := self._rows_left(request, deletes)):
                # Written by a refresh that raced the deletes: delete again (a new attempt, on the next pass).
                log.info("erasure %s of tenant %s: %s per-learner row(s) written during the deletes; again",
                         request.request_id, request.tenant, left)
                self._save(replace(request, state="pending", updated_us=max(self.clock(), request.updated_us + 1)))
                return False
            return True
        waited_s = (self.clock() - request.issued_us) / US
        if waited_s > self.settings.erasure_timeout_s:
            self._fail(request, f"{pending} ClickHouse mutation(s) unfinished after {waited_s:.0f}s "
                                f"(LRS_ERASURE_TIMEOUT_S); see system.mutations")
        return False

    def _rows_left(self, request: Request, deletes: list[tuple[str, str, str]]) -> int:
        """Rows of the request's learners in the per-learner tables (those ``erase_by_actor`` deletes from)."""
        count = query("erasure_rows_left")
        params = bind({"tenant": request.tenant, "ifis": request.ifis})
        with self.clickhouse.client() as client:
            return sum(int(client.execute(count.for_table("SELECT count() FROM", "learner_state", table), params)[0][0])
                       for table, name, _ in deletes if name == "erase_by_actor")

    def _fail(self, request: Request | Removal, reason: str) -> None:
        attempts = max(request.attempts, 1)
        pause_s = backoff_s(attempts, self.settings.erasure_retry_initial_s, self.settings.erasure_retry_max_s)
        now = self.clock()
        metrics.ERASURE_FAILURES.inc()
        log.warning("erasure %s of tenant %s: attempt %s failed (%s); retrying in %.0fs", request.request_id,
                    request.tenant, attempts, reason, pause_s)
        try:
            self._save(replace(request, state="failed", attempts=attempts, error=reason[:1000],
                               next_try_us=now + int(pause_s * US), updated_us=max(now, request.updated_us + 1)))
        except Exception as exc:  # ClickHouse is down: the request stays as it was and the next pass retries
            log.warning("erasure %s: could not record the failure (%s: %s)", request.request_id,
                        type(exc).__name__, exc)

    def _save(self, request: Request | Removal) -> None:
        name = "statement_removal_insert" if isinstance(request, Removal) else "erasure_request_insert"
        self.clickhouse.insert(name, [request.as_row()])
