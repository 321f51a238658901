"""Statements are immutable: the first statement stored under an id wins, at the sink.

The LRS refuses (409) a different statement whose id it can already see, but two LRS processes can both accept
different statements with one id before either reaches ClickHouse. The sink decides: a row is admitted only if its
id is new, or if what is stored under the id is the same statement. A different statement is kept out of every
table (the raw one and, since they are all derived from its inserts, everything else) and recorded in
``statement_conflicts`` and ``lrs_worker_statement_conflicts_total``.

Two statements under one id in one partition (one sink at a time reads it) are decided by the partition's order,
exactly. A request travels as one message on the partition of its first statement's learner (lrs/core/kafka/
envelope.py), so statements under one id may also be in two partitions: they meet only through ClickHouse, where the
check sees the other once its batch is written. Two sinks can still both check (nothing stored) and then both
insert. So after its insert, before its offsets are committed,
a sink re-checks its batch's ids (:meth:`ConflictGuard.settle`: one query per tenant on the narrow
``statement_versions_recent``, which has a row per stored version of an id). Where an id holds several versions, the
earliest stored wins (ties: the smaller JSON), a rule both sinks apply alike without talking, and which the reads
(``statement_by_id``) and the check above (``stored_statements_for_ids``) apply too, so they show the winner at
once. Whichever sink sees the race (at least one does: the later re-check follows both inserts) records each loser
like a sequential conflict, writes the winner's row again (a merge of the raw table keeps the last inserted row of
a key, which may be the loser's), and records a removal: the eraser's timer deletes the loser from every table
holding statement rows and re-marks its learner's course (streams/removals.py). Every step is idempotent, so two
sinks seeing the same race, or a batch retried after a crash, leave the same result.

Both checks read only the versions inserted in the last hours (``statement_versions_recent``), so they cost what
was written lately, not the tenant's history (a random-id lookup reads a granule per id per part: at 10M
statements these checks took a third of ClickHouse's CPU). That suffices because the LRS checked each id when it
stored the statement (``Envelope.checked``): a version inserted before that check, it saw (and refused the
statement or answered that it was stored already); one it could not see was inserted after the statement's
``stored`` time. A race or a crashed earlier attempt of a batch also inserted after ``stored``. So a check looks at
versions inserted since ``stored - conflict_margin_s`` (the margin covers the hosts' clocks and a lagging replica).
A statement the LRS did not check (ClickHouse was down), and a batch stored longer ago than the recent versions are
kept (``recent_versions_keep_s``), are checked against the whole history: the raw table, and for the re-check also
the recent versions, since a merge of the raw table keeps one row per id (the last inserted) and may already have
folded a race of a moment ago into the loser's row.

"Same statement" is what the LRS compares for its 409: everything but the LRS-owned ``stored``, ``authority``
and ``version``, and without a ``timestamp`` the LRS set to ``stored`` (absent in the request). A redelivered
message carries the very same JSON and is written again (idempotent, and it re-marks its analytics); the same
statement accepted twice by two processes (different ``stored``) is a duplicate: the first copy stays.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import orjson

from lrs.core.config import Settings
from lrs.core.kafka.envelope import Envelope
from lrs.core.store.clickhouse import ClickHouse
from streams import metrics
from streams.mapping_rules import MappingRulesStore
from streams.removals import Removal
from streams.rows import COL, statement_row

log = logging.getLogger(__name__)

TENANT, ID, STORED, CLIENT = COL["tenant"], COL["statement_id"], COL["stored_us"], COL["client_key"]
RELATED, JSON = COL["related_agents"], COL["statement"]
TIME, ACTOR, COURSE = COL["timestamp_us"], COL["actor_ifi"], COL["course_id"]
VOIDED, VERSION = COL["voided"], COL["version"]
LRS_OWNED = ("stored", "authority", "version")
# The seconds of one partition of statement_versions_recent (`intDiv(toUInt32(inserted), 600)` in migration 039).
SLOT_S = 600


def fingerprint(statement_json: str) -> str:
    """SHA-256 of the parts of a stored statement that decide whether two statements with one id are the same."""
    statement: dict[str, Any] = orjson.loads(statement_json)
    if statement.get("timestamp") == statement.get("stored"):
        statement.pop("timestamp", None)  # defaulted by the LRS, not sent by the client
    comparable = {k: v for k, v in statement.items() if k not in LRS_OWNED}
    comparable["id"] = str(comparable.get("id", "")).lower()
    return hashlib.sha256(orjson.dumps(comparable, option=orjson.OPT_SORT_KEYS)).hexdigest()


class ConflictGuard:
    """Keeps later, different statements with an already stored id out of a sink batch, and records them."""

    def __init__(self, clickhouse: ClickHouse, rules: MappingRulesStore, settings: Settings) -> None:
        self.clickhouse = clickhouse
        self.rules = rules  # to rebuild a contested id's rows from their JSON, as the sink built them
        self.margin_us = int(settings.conflict_margin_s * 1_000_000)
        self.keep_us = int(settings.recent_versions_keep_s * 1_000_000)
        self._pending: list[list[Any]] = []
        self._deferred: list[tuple[Sequence[Any], Sequence[Any]]] = []
        # The ids of the last admit per tenant, with the second since which settle re-checks their versions
        # (None: the whole history).
        self._checked: dict[str, tuple[list[str], int | None]] = {}

    def since(self, stored_us: Iterable[int]) -> int | None:
        """The second from which ``statement_versions_recent`` holds every version a check of statements stored
        at ``stored_us`` must see; None if that reaches back past what it keeps (check the whole history)."""
        earliest = min(stored_us) - self.margin_us
        if earliest < time.time() * 1_000_000 - self.keep_us + self.margin_us:
            return None
        return earliest // 1_000_000

    def same_batch(self, kept: Sequence[Any], later: Sequence[Any]) -> None:
        """Two rows of one batch with one id: ``kept`` came first in the partition; ``later`` is judged in
        :meth:`admit`, against what is stored under the id if anything is (``kept`` may itself be a later one)."""
        if kept[JSON] != later[JSON]:
            self._deferred.append((kept, later))

    def admit(self, rows: list[list[Any]], checked: Collection[tuple[str, str]] = ()) -> list[list[Any]]:
        """The rows to write: those whose id is new or whose stored statement is this one (redelivered).

        ``checked``: the ``(tenant, id)`` of rows the LRS checked (``Envelope.checked``); the others are checked
        against the whole history. Raises if ClickHouse fails (the sink retries the batch; nothing was recorded
        twice: the conflicts table merges repeated rows).
        """
        by_tenant: dict[str, list[list[Any]]] = {}
        for row in rows:
            by_tenant.setdefault(row[TENANT], []).append(row)
        stored: dict[tuple[str, str], str] = {}
        self._checked = {}
        for tenant, tenant_rows in by_tenant.items():
            ids = [r[ID] for r in tenant_rows]
            self._checked[tenant] = (ids, self.since(r[STORED] for r in tenant_rows))
            recent = [r for r in tenant_rows if (tenant, r[ID]) in checked]
            since = self.since(r[STORED] for r in recent) if recent else None
            whole = ids if since is None else [r[ID] for r in tenant_rows if (tenant, r[ID]) not in checked]
            found = self.clickhouse.run_in_chunks("stored_statements_for_ids", {"tenant": tenant, "ids": whole})
            if since is not None:
                found += self.clickhouse.run_in_chunks("stored_statements_for_ids_since", {
                    "tenant": tenant, "ids": [r[ID] for r in recent], "since": since})
            for sid, statement in found:
                stored[(tenant, sid)] = statement
        deferred, self._deferred = self._deferred, []
        for kept, later in deferred:
            self._judge(stored.get((later[TENANT], later[ID]), kept[JSON]), later)
        admitted = []
        for row in rows:
            first = stored.get((row[TENANT], row[ID]))
            if first is None or first == row[JSON]:
                admitted.append(row)
            else:
                self._judge(first, row)
        self.flush()
        return admitted

    def flush(self) -> None:
        """Write the conflicts found so far (before the batch's statements, so none goes unrecorded)."""
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self.clickhouse.insert("statement_conflicts_insert", pending)
        metrics.STATEMENT_CONFLICTS.inc(len(pending))
        for conflict in pending:
            log.warning("statement %s of tenant %s: a different statement with this id was stored first; the "
                        "later one (stored_us %s) is kept out and recorded in statement_conflicts",
                        conflict[1], conflict[0], conflict[4])

    def settle(self) -> None:
        """After the insert of the last admitted rows: settle the ids that now hold several versions.

        Re-checks every id of the last :meth:`admit` (not only the new ones: a batch retried after a crash must
        finish what the crash interrupted), one query per tenant, in the versions inserted since the batch was
        stored (see the module docstring); nothing more when no id is contested.
        Raises if ClickHouse fails (the sink retries the batch; every step is idempotent).
        """
        checked, self._checked = self._checked, {}
        for tenant, (ids, since) in checked.items():
            if since is None:
                contested = self.clickhouse.run_in_chunks("statement_versions_for_ids_all",
                                                          {"tenant": tenant, "ids": ids})
            else:
                contested = self.clickhouse.run_in_chunks("statement_versions_for_ids",
                                                          {"tenant": tenant, "ids": ids, "since": since})
            if contested:
                self._resolve(tenant, {sid: list(stored) for sid, stored in contested})

    def _resolve(self, tenant: str, contested: dict[str, list[int]]) -> None:
        ids = sorted(contested)
        stored = sorted({s for times in contested.values() for s in times})
        versions: dict[str, list[list[Any]]] = {}
        hashes: dict[tuple[str, int, str], int] = {}
        rules = self.rules.rules_for(tenant)
        for sid, _, statement, statement_hash, client_key in self.clickhouse.run(
                "statement_versions_json", {"tenant": tenant, "ids": ids, "stored": stored}):
            row = statement_row(Envelope(tenant, orjson.loads(statement), client_key or ""), rules)
            versions.setdefault(sid, []).append(row)
            hashes[(sid, row[STORED], statement)] = statement_hash
        voided = {r[0] for r in self.clickhouse.run_in_chunks("voids_for_ids", {"tenant": tenant, "ids": ids})}
        removals = {(r[0], r[1], r[2]) for r in self.clickhouse.run_in_chunks(
            "statement_removals_for_ids", {"tenant": tenant, "ids": ids})}
        winners, requests = [], []
        now = int(time.time() * 1_000_000)
        for sid, rows in versions.items():
            if len(rows) < 2:
                continue  # the other version was removed meanwhile
            winner, *losers = sorted(rows, key=lambda r: (r[STORED], r[JSON]))
            if sid in voided:
                winner[VOIDED], winner[VERSION] = 1, 1
            winners.append(winner)
            recorded = {r[1] for r in self.clickhouse.run("statement_conflicts",
                                                          {"tenant": tenant, "statement_id": sid})}
            for loser in losers:
                if fingerprint(loser[JSON]) not in recorded:  # the other sink may have recorded it already
                    self._judge(winner[JSON], loser)
                statement_hash = hashes[(sid, loser[STORED], loser[JSON])]
                if (sid, loser[STORED], statement_hash) not in removals:
                    requests.append(Removal(
                        tenant, sid, loser[STORED], statement_hash, loser[TIME], loser[ACTOR], loser[COURSE],
                        winner[STORED], winner[TIME], winner[ACTOR], sorted({loser[ACTOR], winner[ACTOR]} - {""}),
                        requested_us=now, updated_us=now).as_row())
        self.flush()  # the conflicts first, so none goes unrecorded
        # The winner's row again: a merge of the raw table keeps the last inserted row of an id, maybe the loser's.
        self.clickhouse.insert("statements_insert", winners)
        self.clickhouse.insert("statement_removal_insert", requests)
        for request in requests:
            log.warning("statement %s of tenant %s: two sinks stored versions at once; the one stored at %s is "
                        "kept, the one stored at %s is being removed", request[1], tenant, request[7], request[2])

    def _judge(self, first_json: str, later: Sequence[Any]) -> None:
        kept, rejected = fingerprint(first_json), fingerprint(later[JSON])
        if kept == rejected:
            metrics.STATEMENT_DUPLICATES.inc()  # the same statement accepted twice: the first copy stays
            return
        self._pending.append([later[TENANT], later[ID], kept, rejected, later[STORED], later[CLIENT],
                              list(later[RELATED]), later[JSON], int(time.time() * 1_000_000)])


def forget_old_versions(clickhouse: ClickHouse, settings: Settings, now_s: float | None = None) -> int:
    """Drop the 10-minute slots of ``statement_versions_recent`` older than ``recent_versions_keep_s`` (whole
    partitions, no mutation); return how many. Idempotent: any worker may run it (the group's leader does)."""
    before = int((time.time() if now_s is None else now_s) - settings.recent_versions_keep_s) // SLOT_S
    slots = [row[0] for row in clickhouse.run("statement_versions_recent_old_partitions", {"before": before})]
    for slot in slots:
        clickhouse.run("statement_versions_recent_drop_partition", {"slot": slot})
    return len(slots)
