"""The message format of the statements topic: what the LRS produces and the workers consume.

Key:   ``tenant|actor IFI`` (UTF-8), so one learner's statements stay ordered on one partition.
Value: compact JSON ``{"v": 1, "tenant": str, "client": str, "statement": {...}}`` where the statement is final
       (``id``, ``stored``, ``timestamp``, ``authority``, ``version`` already set by the LRS);
       or a GDPR erasure ``{"v": 1, "tenant": str, "erase": {"request_id": str, "ifis": [...], "requested_us": int}}``,
       keyed like the learner's statements so it is applied after everything they sent before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

ENVELOPE_VERSION = 1


class PoisonMessage(ValueError):
    """A message on the topic that no version of this code can read."""


@dataclass(frozen=True)
class Envelope:
    """One stored statement as carried on the statements topic."""

    tenant: str
    statement: dict[str, Any]
    client_key: str = ""


@dataclass(frozen=True)
class Erasure:
    """A request to forget a learner of a tenant (``lrs erase``)."""

    tenant: str
    request_id: str
    ifis: tuple[str, ...]
    requested_us: int


def message_key(tenant: str, actor_ifi: str) -> bytes:
    """Partitioning key: one learner of one tenant always maps to the same partition."""
    return f"{tenant}|{actor_ifi}".encode()


def encode(envelope: Envelope) -> bytes:
    """Serialize compactly (ClickHouse's visitParam functions need compact JSON)."""
    return orjson.dumps({"v": ENVELOPE_VERSION, "tenant": envelope.tenant, "client": envelope.client_key,
                        "statement": envelope.statement})


def load_versioned(value: bytes | None, version: int, kind: str) -> dict[str, Any]:
    """A message value as a JSON object of schema ``version``; else PoisonMessage saying why not."""
    if not value:
        raise PoisonMessage("empty message")
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage(f"invalid JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("v") != version:
        raise PoisonMessage(f"unknown {kind} version: {doc.get('v') if isinstance(doc, dict) else None!r}")
    return doc


def _envelope(doc: dict[str, Any]) -> Envelope:
    tenant, statement = doc.get("tenant"), doc.get("statement")
    if not isinstance(tenant, str) or not tenant or not isinstance(statement, dict) or "id" not in statement:
        raise PoisonMessage("envelope lacks tenant or statement id")
    client = doc.get("client")
    return Envelope(tenant=tenant, statement=statement, client_key=client if isinstance(client, str) else "")


def decode(value: bytes | None) -> Envelope:
    """Parse a statement message value; raise PoisonMessage saying why it cannot be used."""
    return _envelope(load_versioned(value, ENVELOPE_VERSION, "envelope"))


def encode_erasure(erasure: Erasure) -> bytes:
    """Serialize an erasure for the statements topic."""
    return orjson.dumps({"v": ENVELOPE_VERSION, "tenant": erasure.tenant, "erase": {
        "request_id": erasure.request_id, "ifis": list(erasure.ifis), "requested_us": erasure.requested_us}})


def decode_any(value: bytes | None) -> Envelope | Erasure:
    """Parse a statements-topic message: a statement envelope or an erasure; else PoisonMessage."""
    doc = load_versioned(value, ENVELOPE_VERSION, "envelope")
    erase = doc.get("erase")
    if not isinstance(erase, dict):
        return _envelope(doc)
    ifis = erase.get("ifis")
    if not doc.get("tenant") or not erase.get("request_id") or not isinstance(ifis, list) or not ifis:
        raise PoisonMessage("erasure lacks tenant, request_id or ifis")
    return Erasure(str(doc["tenant"]), str(erase["request_id"]), tuple(map(str, ifis)),
                   int(erase.get("requested_us") or 0))
