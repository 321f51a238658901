"""The sink: write batches of statement messages into the raw ``statements`` table, idempotently.

At-least-once: the caller acks (commits) a batch's offsets only after ``write_batch`` returned, and a
batch written twice leaves the same rows (ReplacingMergeTree key = tenant + statement id).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from lrs.core.config import Settings
from lrs.core.kafka.envelope import Erasure, PoisonMessage, decode_any, encode
from lrs.core.store.clickhouse import ClickHouse
from streams import metrics
from streams.conflicts import ConflictGuard
from streams.erasure import Eraser, ErasureFence, ifi_hashes
from streams.mapping_rules import MappingRulesStore
from streams.message_rows import message_rows
from streams.rows import COL, statement_row

TENANT_COLUMN, ID_COLUMN, STORED_COLUMN = COL["tenant"], COL["statement_id"], COL["stored_us"]
TARGET_COLUMN, VOIDED_COLUMN, VERSION_COLUMN = COL["voiding_target"], COL["voided"], COL["version"]
COURSE_COLUMN, ACTOR_COLUMN, AGENTS_COLUMN = COL["course_id"], COL["actor_ifi"], COL["related_agents"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """The parts of a Kafka record the sink needs."""

    partition: int
    offset: int
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """A message the sink could not use, and why: it goes to the dead-letter topic."""

    message: Message
    reason: str


# One message's rows with whether the LRS checked their ids, an erasure, or a dead letter.
DecodedPart = tuple[bool, list[list]] | Erasure | DeadLetter


@dataclass(frozen=True)
class DecodedBatch:
    """A batch as :meth:`StatementSink.decode_batch` read it: its messages, and their parts in order."""

    messages: Sequence[Message]
    parts: list[DecodedPart]


@dataclass
class BatchResult:
    """What one ``write_batch`` did."""

    written: int = 0
    dead: list[DeadLetter] = field(default_factory=list)
    erased_slices: set[tuple[str, str]] = field(default_factory=set)
    # Per tenant: the learners of the written statements per course, and the ids their voiding statements target.
    touched: dict[str, tuple[dict[str, set[str]], set[str]]] = field(default_factory=dict)


class StatementSink:
    """Writes statement batches and records progress in ``sink_offsets``."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse | None = None) -> None:
        self.settings = settings
        self.clickhouse = clickhouse or ClickHouse(settings, size=2)
        self.rules = MappingRulesStore(settings, self.clickhouse)
        self.conflicts = ConflictGuard(self.clickhouse, self.rules, settings)  # the first stored under an id wins
        self.eraser = Eraser(settings, self.clickhouse)
        self.fence = ErasureFence(self.clickhouse)  # what erasures requested so far keep out

    def write_batch(self, messages: Sequence[Message]) -> BatchResult:
        """Write one batch; return what was written and what is for the dead-letter topic.

        Raises if ClickHouse fails (the caller retries the whole batch: writes are idempotent).
        """
        return self.write_decoded(self.decode_batch(messages))

    def decode_batch(self, messages: Sequence[Message]) -> DecodedBatch:
        """The first half of :meth:`write_batch`: each message's rows, erasure or dead letter, in order.

        Reads and writes nothing but the mapping rules' cache, so it may run while the batch before is written
        (streams/app.py): the worker's Python work and ClickHouse's insert of the batch before overlap.
        """
        parts: list[DecodedPart] = []
        for message in messages:
            fast = message_rows(message.value, self.rules.rules_for)
            if fast is not None:  # the common message, read without building dicts (streams/message_rows.py)
                _, was_checked, rows = fast
                parts.append((was_checked, rows))
                continue
            try:
                item = decode_any(message.value)
            except PoisonMessage as exc:
                parts.append(self._dead(message, str(exc), str(exc).split(":")[0]))
                continue
            if isinstance(item, Erasure):
                parts.append(item)
                continue
            for envelope in item:
                try:
                    row = statement_row(envelope, self.rules.rules_for(envelope.tenant))
                except (KeyError, ValueError, TypeError) as exc:
                    # Only this statement is set aside, as a message of its own that can be replayed.
                    alone = Message(message.partition, message.offset, encode(envelope))
                    parts.append(self._dead(alone, f"bad statement: {type(exc).__name__}: {exc}", "bad statement"))
                    continue
                parts.append((envelope.checked, [row]))
        return DecodedBatch(messages, parts)

    def write_decoded(self, decoded: DecodedBatch) -> BatchResult:
        """The second half of :meth:`write_batch`: write the decoded rows, apply the erasures, record progress.

        Raises if ClickHouse fails; calling it again with the same ``decoded`` then writes the same rows.
        """
        result = BatchResult()
        self.fence.refresh()
        rows_by_key: dict[tuple[str, str], list] = {}
        checked: set[tuple[str, str]] = set()  # the ids the LRS checked (streams/conflicts.py)
        for part in decoded.parts:
            if isinstance(part, DeadLetter):
                result.dead.append(part)
            elif isinstance(part, Erasure):
                # Everything before the erasure in this batch is written first, then erased with the rest.
                result.written += self._write_rows(list(rows_by_key.values()), result, checked)
                rows_by_key = {}
                result.erased_slices |= self.erase(part)
            else:
                was_checked, rows = part
                for row in rows:
                    # The batch's first row per id is kept (a later one is a same-batch conflict).
                    key = (row[TENANT_COLUMN], row[ID_COLUMN])
                    kept = rows_by_key.setdefault(key, row)
                    if kept is not row:
                        self.conflicts.same_batch(kept, row)
                    elif was_checked:
                        checked.add(key)
        result.written += self._write_rows(list(rows_by_key.values()), result, checked)
        self._record_progress(decoded.messages)
        metrics.EVENTS_PROCESSED.labels(processor="sink").inc(len(decoded.messages))
        metrics.BATCH_SIZE.observe(len(decoded.messages))
        return result

    def _write_rows(self, rows: list[list], result: BatchResult, checked: set[tuple[str, str]]) -> int:
        fenced = [r for r in rows if self.fence.admits(r[TENANT_COLUMN], r[AGENTS_COLUMN], r[STORED_COLUMN])]
        if len(fenced) < len(rows):
            metrics.ERASED_ON_ARRIVAL.inc(len(rows) - len(fenced))
            rows = fenced
        rows = self.conflicts.admit(rows, checked) if rows else rows  # before anything is derived from them
        if not rows:
            self.conflicts.settle()  # a retried batch may hold a loser stored by an attempt that crashed
            return 0
        for row in rows:  # what the analytics marker needs, read off the rows (no second decode)
            courses, targets = result.touched.setdefault(row[TENANT_COLUMN], ({}, set()))
            if row[COURSE_COLUMN] and not row[TARGET_COLUMN]:  # a voiding statement never counts itself
                courses.setdefault(row[COURSE_COLUMN], set()).add(row[ACTOR_COLUMN])
            if row[TARGET_COLUMN]:
                targets.add(row[TARGET_COLUMN])
        # Voids inside the batch apply to targets inside the batch before anything is written.
        voids = [[r[TENANT_COLUMN], r[TARGET_COLUMN], r[ID_COLUMN], r[STORED_COLUMN]] for r in rows if r[TARGET_COLUMN]]
        void_keys = {(v[0], v[1]) for v in voids}
        for row in rows:
            if (row[TENANT_COLUMN], row[ID_COLUMN]) in void_keys:
                row[VOIDED_COLUMN], row[VERSION_COLUMN] = 1, 1

        # Order matters for concurrent sinks: statements first, then void records, then each side
        # re-checks the other, so a void and its target written by two workers always meet.
        self._timed("statements", lambda: self.clickhouse.insert("statements_insert", rows))
        self._timed("statement_voids", lambda: self.clickhouse.insert("voids_insert", voids))
        self._apply_voids(rows, voids)
        # Another sink may have inserted a different statement under a new id since admit's check.
        self._timed("statement_versions", self.conflicts.settle)
        self._erase_written_late(rows)
        metrics.LAST_WRITTEN_STORED.set(max(r[STORED_COLUMN] for r in rows) / 1_000_000)
        return len(rows)

    def _erase_written_late(self, rows: list[list]) -> None:
        """Apply again each erasure another sink recorded between this batch's fence read and its insert, if it
        covers a row just written: its deletes may have run before the insert, and nothing else would remove the
        row. Read after the insert, so a request recorded later is applied after it anyway."""
        self.fence.refresh()
        late: dict[tuple[str, str], set[str]] = {}
        for row in rows:
            for request_id, ifis in self.fence.covering(row[TENANT_COLUMN], row[AGENTS_COLUMN],
                                                        row[STORED_COLUMN]).items():
                late.setdefault((row[TENANT_COLUMN], request_id), set()).update(ifis)
        for (tenant, request_id), ifis in sorted(late.items()):
            self.eraser.reopen(tenant, request_id, sorted(ifis))

    def erase(self, erasure: Erasure) -> set[tuple[str, str]]:
        """Queue a GDPR erasure (one insert; streams/erasure.py applies it without holding up the sink)."""
        self.eraser.accept(erasure)
        self.fence.add(erasure.tenant, ifi_hashes(erasure.ifis), erasure.requested_us)  # the rest of the batch too
        return set()  # the eraser re-marks the analytics once the deletes are visible

    @staticmethod
    def _dead(message: Message, reason: str, label: str) -> DeadLetter:
        metrics.POISON_MESSAGES.labels(reason=label).inc()
        log.warning("dead-lettering message p%s@%s: %s", message.partition, message.offset, reason)
        return DeadLetter(message, reason)

    def _apply_voids(self, rows: list[list], voids: list[list]) -> None:
        targets: dict[str, set[str]] = defaultdict(set)
        for tenant, target, _, _ in voids:
            targets[tenant].add(target)
        fresh: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            if not row[VOIDED_COLUMN]:
                fresh[row[TENANT_COLUMN]].append(row[ID_COLUMN])
        for tenant, ids in fresh.items():
            found = self.clickhouse.run_in_chunks("voids_for_ids", {"tenant": tenant, "ids": ids})
            targets[tenant].update(r[0] for r in found)
        for tenant, ids in targets.items():
            if ids:
                self._timed("statements", lambda t=tenant, i=ids: self.clickhouse.run_in_chunks(
                    "statements_mark_voided", {"tenant": t, "ids": sorted(i)}))

    def _record_progress(self, messages: Sequence[Message]) -> None:
        last: dict[int, int] = {}
        for message in messages:
            last[message.partition] = max(last.get(message.partition, -1), message.offset)
        now = int(time.time() * 1_000_000)
        rows = [[self.settings.statements_topic, p, o, now] for p, o in sorted(last.items())]
        self._timed("sink_offsets", lambda: self.clickhouse.insert("sink_offsets_insert", rows))

    @staticmethod
    def _timed(table: str, action) -> None:
        start = time.perf_counter()
        try:
            action()
        except Exception:
            metrics.INSERT_ERRORS.labels(table=table).inc()
            raise
        metrics.INSERT_LATENCY.labels(table=table).observe(time.perf_counter() - start)
