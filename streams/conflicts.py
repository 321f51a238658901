"""Statements are immutable: the first statement stored under an id wins, at the sink.

The LRS refuses (409) a different statement whose id it can already see, but two LRS processes can both accept
different statements with one id before either reaches ClickHouse. The sink decides: a row is admitted only if its
id is new, or if what is stored under the id is the same statement. A different statement is kept out of every
table (the raw one and, since they are all derived from its inserts, everything else) and recorded in
``statement_conflicts`` and ``lrs_worker_statement_conflicts_total``.

Statements are partitioned by learner, so one partition (one sink at a time) owns every statement of a learner:
for statements with the same actor the order of the partition decides, exactly. Statements of two different
learners under one id meet only through ClickHouse: the check sees the other once its batch is written, which
leaves the instant of two sinks inserting the same new id at once (see docs/operations.md, "Guarantees").

"Same statement" is what the LRS compares for its 409: everything but the LRS-owned ``stored``, ``authority``
and ``version``, and without a ``timestamp`` the LRS set to ``stored`` (absent in the request). A redelivered
message carries the very same JSON and is written again (idempotent, and it re-marks its analytics); the same
statement accepted twice by two processes (different ``stored``) is a duplicate: the first copy stays.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson

from lrs.core.store.clickhouse import ClickHouse
from streams import metrics
from streams.rows import COL

log = logging.getLogger(__name__)

TENANT, ID, STORED, CLIENT = COL["tenant"], COL["statement_id"], COL["stored_us"], COL["client_key"]
RELATED, JSON = COL["related_agents"], COL["statement"]
LRS_OWNED = ("stored", "authority", "version")


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

    def __init__(self, clickhouse: ClickHouse) -> None:
        self.clickhouse = clickhouse
        self._pending: list[list[Any]] = []
        self._deferred: list[tuple[Sequence[Any], Sequence[Any]]] = []

    def same_batch(self, kept: Sequence[Any], later: Sequence[Any]) -> None:
        """Two rows of one batch with one id: ``kept`` came first in the partition; ``later`` is judged in
        :meth:`admit`, against what is stored under the id if anything is (``kept`` may itself be a later one)."""
        if kept[JSON] != later[JSON]:
            self._deferred.append((kept, later))

    def admit(self, rows: list[list[Any]]) -> list[list[Any]]:
        """The rows to write: those whose id is new or whose stored statement is this one (redelivered).

        Raises if ClickHouse fails (the sink retries the batch; nothing was recorded twice: the conflicts table
        merges repeated rows).
        """
        by_tenant: dict[str, list[str]] = {}
        for row in rows:
            by_tenant.setdefault(row[TENANT], []).append(row[ID])
        stored: dict[tuple[str, str], str] = {}
        for tenant, ids in by_tenant.items():
            for sid, statement in self.clickhouse.run_in_chunks("stored_statements_for_ids",
                                                                {"tenant": tenant, "ids": ids}):
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

    def _judge(self, first_json: str, later: Sequence[Any]) -> None:
        kept, rejected = fingerprint(first_json), fingerprint(later[JSON])
        if kept == rejected:
            metrics.STATEMENT_DUPLICATES.inc()  # the same statement accepted twice: the first copy stays
            return
        self._pending.append([later[TENANT], later[ID], kept, rejected, later[STORED], later[CLIENT],
                              list(later[RELATED]), later[JSON], int(time.time() * 1_000_000)])
