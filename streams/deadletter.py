"""Dead-letter messages: what a worker could not use, with the reason (schemas/events/dead_letter.schema.json)."""

from __future__ import annotations

import base64
import time

import faust

from streams.sink import DeadLetter, Message

SCHEMA_VERSION = 1


class DeadLetterEvent(faust.Record, serializer="json", include_metadata=False):
    """The dead-letter event, typed: plain JSON with exactly these fields (no Faust metadata in the message),
    so the wire format is the schema's and readers need no Faust (``DeadLetterEvent.loads`` reads it back)."""

    v: int
    source_topic: str
    partition: int
    offset: int
    reason: str
    value_b64: str
    dead_at_us: int


def dead_letter_key(topic: str, message: Message) -> bytes:
    """``source_topic:partition:offset``: a redelivered poison message keeps the same key."""
    return f"{topic}:{message.partition}:{message.offset}".encode()


def dead_letter_value(topic: str, dead: DeadLetter) -> bytes:
    """The dead-letter event: source position, reason and the original bytes."""
    return DeadLetterEvent(
        v=SCHEMA_VERSION,
        source_topic=topic,
        partition=dead.message.partition,
        offset=dead.message.offset,
        reason=dead.reason,
        value_b64=base64.b64encode(dead.message.value or b"").decode(),
        dead_at_us=int(time.time() * 1_000_000),
    ).dumps()
