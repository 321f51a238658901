"""Dead-letter messages: what a worker could not use, with the reason (schemas/events/dead_letter.schema.json)."""

from __future__ import annotations

import base64
import time

import orjson

from streams.sink import DeadLetter, Message

SCHEMA_VERSION = 1


def dead_letter_key(topic: str, message: Message) -> bytes:
    """``source_topic:partition:offset``: a redelivered poison message keeps the same key."""
    return f"{topic}:{message.partition}:{message.offset}".encode()


def dead_letter_value(topic: str, dead: DeadLetter) -> bytes:
    """The dead-letter event: source position, reason and the original bytes."""
    return orjson.dumps({
        "v": SCHEMA_VERSION,
        "source_topic": topic,
        "partition": dead.message.partition,
        "offset": dead.message.offset,
        "reason": dead.reason,
        "value_b64": base64.b64encode(dead.message.value or b"").decode(),
        "dead_at_us": int(time.time() * 1_000_000),
    })
