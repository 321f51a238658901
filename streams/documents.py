"""The documents writer: applies State / Activity Profile / Agent Profile commands, one at a time.

The documents topic is keyed by document set, so every command for a document is on one partition,
owned by one worker of the group: that worker is the single writer for the set and applies its commands
in offset order. Per command it reads the stored version(s) from ClickHouse, decides
(:func:`lrs.core.documents.commands.decide`), writes the new document row(s), then the result row the
waiting LRS polls for, and only then acks the message.

At-least-once: a redelivered command finds its result row (answered before) or its request_id on the
document row (applied, result not yet written) and is not applied twice. Nothing here depends on Kafka
end offsets: the writer's own result rows are the record of what was applied.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from lrs.core.config import Settings
from lrs.core.documents.commands import DocumentCommand, Outcome, StoredDoc, decide, decode_command
from lrs.core.kafka.envelope import PoisonMessage
from lrs.core.retry import retry_forever
from lrs.core.store.clickhouse import ClickHouse
from streams import metrics

log = logging.getLogger(__name__)


class DocumentWriter:
    """Applies decoded document commands to ClickHouse (blocking; run it in an executor)."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse | None = None) -> None:
        self.settings = settings
        self.clickhouse = clickhouse or ClickHouse(settings, size=2)

    def cleanup(self, now_us: int | None = None) -> None:
        """Delete command results older than ``document_results_keep_s`` (they only answer replays)."""
        now_us = now_us if now_us is not None else int(time.time() * 1_000_000)
        before = now_us - int(self.settings.document_results_keep_s * 1_000_000)
        self.clickhouse.run("document_results_cleanup", {"before_us": before})

    def handle(self, value: bytes | None) -> Outcome | None:
        """Apply one message; return the outcome (None for an unreadable message, which is skipped)."""
        try:
            command = decode_command(value)
        except PoisonMessage as exc:
            metrics.POISON_MESSAGES.labels(reason=f"document {str(exc).split(':')[0]}").inc()
            log.warning("skipping unreadable document command: %s", exc)
            return None
        return self.apply(command)

    def apply(self, command: DocumentCommand) -> Outcome:
        """Decide and write one command (idempotent); raises if ClickHouse fails, so the caller retries."""
        answered = self.clickhouse.run("document_result", {"request_id": command.request_id})
        if answered:
            status, etag, message = answered[0]
            return Outcome(int(status), etag, message)
        decision = decide(command, self._stored(command), time.time_ns() // 1000)
        if decision.rows:
            self.clickhouse.insert("documents_insert", decision.rows)
        # The result comes last: once the LRS sees it, the document rows are readable.
        self.clickhouse.insert("document_results_insert", [decision.outcome.row(command.request_id,
                                                                                time.time_ns() // 1000)])
        metrics.EVENTS_PROCESSED.labels(processor="documents").inc()
        return decision.outcome

    def _stored(self, command: DocumentCommand) -> list[StoredDoc]:
        params: dict[str, Any] = {"tenant": command.tenant, "resource": command.resource,
                                  "activity_id": command.activity_id, "agent": command.agent}
        if command.doc_id is None:
            params.update(any_registration=int(command.registration is None),
                          registration=command.registration or "")
            rows = self.clickhouse.run("documents_set", params)
        else:
            params.update(registration=command.registration or "", doc_id=command.doc_id)
            rows = self.clickhouse.run("documents_current", params)
        return [StoredDoc.from_row(row) for row in rows]


async def apply_with_retry(writer: DocumentWriter, value: bytes | None, max_backoff_s: float) -> None:
    """Apply one command, retrying with jittered capped back-off while ClickHouse fails (never skips a
    command: later commands of the set must not overtake it)."""
    loop = asyncio.get_running_loop()
    # Any ClickHouse or network failure: the same command again.
    await retry_forever(lambda: loop.run_in_executor(None, writer.handle, value), "document write", max_backoff_s,
                        initial_s=0.05, logger=log)
