"""GDPR erasure requests: forget one learner of a tenant everywhere (``lrs erase``).

The request travels as a message on the statements topic, keyed like the learner's statements, so
the sink queues it after everything the learner sent before it, and a replay of the topic replays
the erasure too. The eraser (streams/erasure.py) then deletes, asynchronously and with retries, every row
naming the learner in every table with a learner column, their documents and the attachments only they used,
recomputes the affected courses, and records the erasure (with hashed identifiers only). See docs/operations.md.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any

from lrs.core.config import Settings
from lrs.core.kafka.envelope import Erasure, encode_erasure, message_key
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.xapi import XAPIValidationError, actor_ifi, validate_actor
from lrs.service.publisher import Publisher
from streams.erasure import Request, ifi_hashes


class ErasureError(ValueError):
    """The agent given cannot be erased (not an identified Agent)."""


def learner_ifis(agent: dict[str, Any]) -> list[str]:
    """Every IFI form under which the learner may be stored (an mbox is also known by its SHA-1)."""
    try:
        validate_actor(agent)
    except XAPIValidationError as exc:
        raise ErasureError(f"agent: {exc.message}") from None
    if agent.get("objectType") == "Group":
        raise ErasureError("erase one Agent at a time, not a Group")
    ifis = [actor_ifi(agent)]
    if agent.get("mbox"):
        ifis.append(f"mbox_sha1sum:{hashlib.sha1(str(agent['mbox']).encode()).hexdigest()}")
    return ifis


def request_erasure(settings: Settings, publisher: Publisher, tenant: str, agent: dict[str, Any],
                    clickhouse: ClickHouse | None = None) -> Erasure:
    """Publish the erasure (acknowledged by the broker) and return it; with ``clickhouse``, record it as
    ``requested`` (hashes only), so ``lrs erase --status`` shows it before a worker reaches it. Recorded after the
    broker has it (no request that was never sent); a worker's newer state wins however the two inserts land."""
    ifis = learner_ifis(agent)
    erasure = Erasure(tenant, str(uuid.uuid4()), tuple(ifis), int(time.time() * 1_000_000))
    publisher.send(settings.statements_topic, message_key(tenant, ifis[0]), encode_erasure(erasure))
    if clickhouse is not None:
        request = Request(tenant, erasure.request_id, ifi_hashes(ifis), [], erasure.requested_us, "requested",
                          updated_us=erasure.requested_us)
        clickhouse.insert("erasure_request_insert", [request.as_row()])
    return erasure


def erasure_status(clickhouse: ClickHouse, tenant: str = "", limit: int = 100) -> list[Request]:
    """The newest erasure requests (of ``tenant``, or of every tenant), newest first."""
    return [Request.from_row(row) for row in clickhouse.run("erasure_requests_list",
                                                             {"tenant": tenant, "limit": limit})]


def wait_applied(clickhouse: ClickHouse, erasure: Erasure, timeout_s: float) -> tuple[int, int] | None:
    """``(statements, documents)`` erased once the sink has applied it; None if not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        rows = clickhouse.run("erasure_by_request", {"tenant": erasure.tenant, "request_id": erasure.request_id})
        if rows:
            return int(rows[0][1]), int(rows[0][2])
        time.sleep(0.2)
    return None
