"""The message format of the statements topic: what the LRS produces and the workers consume.

Key:   ``tenant|actor IFI`` (UTF-8) of the message's first statement, which also picks its partition (Kafka's
       murmur2 partitioner): a one-learner request, and each single statement, goes to that learner's partition.
Value: compact JSON ``{"v": 1, "tenant": str, "client": str, "statements": [{...}, ...]}``: the statements of
       one request, in order, up to ``Settings.kafka_message_bytes`` per message (a larger request is cut into
       consecutive runs, each a message). Statements are final (``id``, ``stored``, ``timestamp``,
       ``authority``, ``version`` already set by the LRS), each serialized by orjson (compact, UTF-8): the sink
       stores a statement's bytes from the message as they are (streams/message_rows.py). A request is one
       message, not one per partition its learners map to: a message is in Kafka wholly or not at all by itself,
       so the common request needs no
       Kafka transaction (which cost the broker about 10 ms of CPU per request of 100 statements), and the
       producer, broker and consumers pay their per-message costs once per request.
       ``"statement": {...}`` (a single statement) is read too;
       or a GDPR erasure ``{"v": 1, "tenant": str, "erase": {"request_id": str, "ifis": [...], "requested_us": int}}``,
       keyed by the learner. Nothing relies on a learner's statements sharing a partition: the sink's erasure
       fence keeps out what an erasure covers whatever partition it comes from, and two statements under one id
       meet in ClickHouse (streams/erasure.py, streams/conflicts.py).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from kafka.partitioner import murmur2

ENVELOPE_VERSION = 1
# Statements per message stop growing here (Settings.kafka_message_bytes): far below Kafka's default 1 MiB message
# limit (the statements topic allows 16 MiB).
GROUP_BYTES = 512 * 1024
# Statements serialized together (one run of a message): a run is never split, so messages fill to within a run.
RUN_STATEMENTS = 32


class PoisonMessage(ValueError):
    """A message on the topic that no version of this code can read."""


@dataclass(frozen=True, slots=True)
class Envelope:
    """One stored statement as carried on the statements topic."""

    tenant: str
    statement: dict[str, Any]
    client_key: str = ""
    # The LRS checked the id against ClickHouse when it stored the statement: a copy stored earlier it saw, so the
    # sink's check need only look at what was inserted since (streams/conflicts.py).
    checked: bool = False


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
    doc = {"v": ENVELOPE_VERSION, "tenant": envelope.tenant, "client": envelope.client_key,
           "statement": envelope.statement}
    if envelope.checked:
        doc["checked"] = True
    return orjson.dumps(doc)


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


def encode_statements(tenant: str, client_key: str, statements: Sequence[bytes], checked: bool = False) -> bytes:
    """One message of already-serialized statements (each item one statement or a comma-separated run of them, as
    ``group_request`` makes them, so callers can size groups); ``checked`` as in :class:`Envelope`."""
    head = orjson.dumps({"v": ENVELOPE_VERSION, "tenant": tenant, "client": client_key,
                         **({"checked": True} if checked else {})})
    return head[:-1] + b',"statements":[' + b",".join(statements) + b"]}"


@functools.lru_cache(maxsize=65536)
def _key_hash(key: bytes) -> int:
    # kafka-python's murmur2 is pure Python, and a learner's key repeats across their requests (now hashed once
    # per message, for its first statement).
    return murmur2(key) & 0x7FFFFFFF


def group_request(keyed: Sequence[tuple[bytes, dict[str, Any]]], partitions: Sequence[int],
                  max_bytes: int = GROUP_BYTES) -> list[tuple[int, bytes, list[bytes]]]:
    """A request's ``(key, statement)`` pairs as messages ``(partition, key, serialized runs)``, in order.

    Each run is one or more consecutive statements serialized and comma-separated (``encode_statements`` joins
    the runs of a message with commas too). Consecutive statements share a message until it holds ``max_bytes``;
    a larger statement travels alone. A message goes to the partition its first statement's key maps to (Kafka's
    default murmur2 partitioner, as for a message with that key), so a one-learner request stays on the learner's
    partition.
    """
    groups: list[tuple[int, bytes, list[bytes]]] = []
    size = 0
    for start in range(0, len(keyed), RUN_STATEMENTS):
        piece = keyed[start:start + RUN_STATEMENTS]
        # One orjson call per run, not per statement: half the serialization's CPU on a request of 1,000.
        body = orjson.dumps([statement for _, statement in piece])[1:-1]
        runs = [(piece[0][0], body)] if len(body) + 1 <= max_bytes else [(key, orjson.dumps(s)) for key, s in piece]
        for key, run in runs:
            if not groups or size + len(run) + 1 > max_bytes:
                groups.append((partitions[_key_hash(key) % len(partitions)], key, []))
                size = 0
            groups[-1][2].append(run)
            size += len(run) + 1
    return groups


def _envelopes(doc: dict[str, Any]) -> list[Envelope]:
    tenant = doc.get("tenant")
    statements = doc.get("statements") if "statements" in doc else [doc.get("statement")]
    if not isinstance(tenant, str) or not tenant or not isinstance(statements, list) or not statements or not all(
            isinstance(s, dict) and "id" in s for s in statements):
        raise PoisonMessage("envelope lacks tenant or statement id")
    client = doc.get("client")
    client_key = client if isinstance(client, str) else ""
    checked = doc.get("checked") is True
    return [Envelope(tenant=tenant, statement=s, client_key=client_key, checked=checked) for s in statements]


def decode_statements(value: bytes | None) -> list[Envelope]:
    """The statements of a statement message; raise PoisonMessage saying why it cannot be used."""
    return _envelopes(load_versioned(value, ENVELOPE_VERSION, "envelope"))


def encode_erasure(erasure: Erasure) -> bytes:
    """Serialize an erasure for the statements topic."""
    return orjson.dumps({"v": ENVELOPE_VERSION, "tenant": erasure.tenant, "erase": {
        "request_id": erasure.request_id, "ifis": list(erasure.ifis), "requested_us": erasure.requested_us}})


def decode_any(value: bytes | None) -> list[Envelope] | Erasure:
    """Parse a statements-topic message: its statements, or an erasure; else PoisonMessage."""
    doc = load_versioned(value, ENVELOPE_VERSION, "envelope")
    erase = doc.get("erase")
    if not isinstance(erase, dict):
        return _envelopes(doc)
    ifis = erase.get("ifis")
    if not doc.get("tenant") or not erase.get("request_id") or not isinstance(ifis, list) or not ifis:
        raise PoisonMessage("erasure lacks tenant, request_id or ifis")
    return Erasure(str(doc["tenant"]), str(erase["request_id"]), tuple(map(str, ifis)),
                   int(erase.get("requested_us") or 0))
