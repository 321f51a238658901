"""The typed dead-letter event (a faust.Record) keeps the wire format: the schema's plain JSON, nothing added."""

from __future__ import annotations

import base64
import json

import orjson

from schemas import schema_path
from streams.deadletter import DeadLetterEvent, dead_letter_value
from streams.sink import DeadLetter, Message


def test_wire_format_is_the_schemas_plain_json() -> None:
    dead = DeadLetter(Message(3, 42, b"\xffnot json"), 'invalid JSON: "q" \u00e9')
    wire = dead_letter_value("xapi.statements", dead)
    doc = orjson.loads(wire)
    # Byte for byte what the hand-built dict gave before (compact JSON, schema field order, no "__faust" metadata).
    assert wire == orjson.dumps({"v": 1, "source_topic": "xapi.statements", "partition": 3, "offset": 42,
                                 "reason": dead.reason, "value_b64": base64.b64encode(b"\xffnot json").decode(),
                                 "dead_at_us": doc["dead_at_us"]})
    schema = json.loads(schema_path("events/dead_letter.schema.json").read_text(encoding="utf-8"))
    assert set(doc) == set(schema["required"]) == set(schema["properties"])
    event = DeadLetterEvent.loads(wire)
    assert (event.partition, event.offset, event.reason) == (3, 42, dead.reason)
    assert base64.b64decode(event.value_b64) == b"\xffnot json"
