"""Document keys, ETag headers, merge rules and the single writer's decisions (no services needed)."""

from __future__ import annotations

import base64
import hashlib

import orjson
import pytest

from lrs.core.documents.commands import (
    ALLOW,
    CONFLICT,
    REQUIRE,
    DocumentCommand,
    StoredDoc,
    decide,
    decode_command,
)
from lrs.core.documents.keys import DocumentSet, etag_of, is_json_type, media_type, parse_etag_header
from lrs.core.documents.merge import MergeError, merge_documents
from lrs.core.kafka.envelope import PoisonMessage

AGENT = "mbox:mailto:a@example.com"


def test_key_names_the_document_set() -> None:
    docs = DocumentSet("t1", "state", "https://example.com/a", AGENT)
    assert docs.key() == b"t1|state|https://example.com/a|mbox:mailto:a@example.com"
    assert DocumentSet("t2", "state", "https://example.com/a", AGENT).key() != docs.key()


def test_etag_is_sha1_hex_of_the_bytes() -> None:
    assert etag_of(b"\x00\xff") == hashlib.sha1(b"\x00\xff").hexdigest()


@pytest.mark.parametrize(("header", "parsed"), [
    (None, None), ("*", "*"), (' "ABC" ', ["abc"]), ('W/"a", "b"', ["a", "b"]), ("abc", ["abc"]),
])
def test_etag_headers(header: str | None, parsed: object) -> None:
    assert parse_etag_header(header) == parsed


def test_media_types() -> None:
    assert media_type("Application/JSON; charset=utf-8") == "application/json"
    assert is_json_type("application/json;charset=UTF-8")
    assert not is_json_type("text/plain") and not is_json_type(None)


def test_merge_overrides_top_level_keys_only() -> None:
    merged = merge_documents(b'{"a":1,"o":{"x":1,"y":2}}', "application/json", b'{"b":2,"o":{"z":3}}',
                             "application/json; charset=utf-8")
    assert orjson.loads(merged) == {"a": 1, "b": 2, "o": {"z": 3}}


@pytest.mark.parametrize(("old", "old_type", "new", "new_type"), [
    (b'{"a":1}', "application/json", b"abc", "text/plain"),
    (b"abc", "application/octet-stream", b'{"a":1}', "application/json"),
    (b"[1]", "application/json", b'{"a":1}', "application/json"),
    (b'{"a":1}', "application/json", b'{"a":1', "application/json"),
])
def test_merge_refuses_non_objects(old: bytes, old_type: str, new: bytes, new_type: str) -> None:
    with pytest.raises(MergeError):
        merge_documents(old, old_type, new, new_type)


def command(op: str = "put", body: bytes = b'{"a":1}', **extra: object) -> DocumentCommand:
    values: dict = dict(request_id="r1", tenant="t", resource="state", activity_id="act", agent=AGENT,
                        registration="", doc_id="d1", op=op, content_type="application/json", body=body)
    values.update(extra)
    return DocumentCommand(**values)


def stored(content: bytes = b'{"old":true}', *, deleted: int = 0, request_id: str = "r0",
           content_type: str = "application/json", version: int = 100) -> StoredDoc:
    return StoredDoc("d1", "", base64.b64encode(content).decode(), content_type, "" if deleted else etag_of(content),
                     version, deleted, request_id, version)


def test_command_round_trips_through_the_topic_format() -> None:
    original = command(body=b"\x00\x01binary", if_match=["abc"], if_none_match="*", no_precondition=REQUIRE,
                       received_us=5)
    assert decode_command(original.encode()) == original
    multi = command(op="delete", doc_id=None, registration=None, body=b"")
    assert decode_command(multi.encode()) == multi


@pytest.mark.parametrize("value", [b"", b"nope", b'{"v":9}', b'{"v":1,"request_id":"r"}'])
def test_unreadable_commands_are_poison(value: bytes) -> None:
    with pytest.raises(PoisonMessage):
        decode_command(value)


def test_put_creates_then_versions_increase() -> None:
    first = decide(command(), [], now_us=1000)
    assert first.outcome.status == 204 and first.outcome.etag == etag_of(b'{"a":1}')
    assert len(first.rows) == 1 and first.rows[0][-1] == 1000
    later = decide(command(request_id="r2"), [stored(version=5000)], now_us=1000)
    assert later.rows[0][-1] == 5001, "a lagging clock must not produce an older version"


def test_redelivered_command_is_not_applied_twice() -> None:
    decision = decide(command(request_id="r0"), [stored(request_id="r0")], now_us=1)
    assert decision.outcome.status == 204 and not decision.rows


@pytest.mark.parametrize(("policy", "exists", "status"), [
    (ALLOW, True, 204), (ALLOW, False, 204), (CONFLICT, True, 409), (CONFLICT, False, 204),
    (REQUIRE, True, 409), (REQUIRE, False, 400),
])
def test_put_without_precondition_headers(policy: str, exists: bool, status: int) -> None:
    current = [stored()] if exists else []
    decision = decide(command(no_precondition=policy), current, now_us=1)
    assert decision.outcome.status == status
    assert bool(decision.rows) == (status == 204)


def test_if_match_and_if_none_match() -> None:
    old = stored()
    assert decide(command(if_match=[old.etag]), [old], 1).outcome.status == 204
    assert decide(command(if_match=["0" * 40]), [old], 1).outcome.status == 412
    assert decide(command(if_match="*"), [old], 1).outcome.status == 204
    assert decide(command(if_match="*"), [], 1).outcome.status == 412
    assert decide(command(if_match="*"), [stored(deleted=1)], 1).outcome.status == 412
    assert decide(command(if_none_match="*"), [old], 1).outcome.status == 412
    assert decide(command(if_none_match="*"), [stored(deleted=1)], 1).outcome.status == 204
    assert decide(command(op="delete", if_match=["0" * 40]), [old], 1).outcome.status == 412
    assert decide(command(op="post", if_match=["0" * 40]), [old], 1).outcome.status == 412


def test_post_merges_or_creates_or_refuses() -> None:
    merged = decide(command(op="post", body=b'{"b":2}'), [stored(b'{"a":1}')], 1)
    assert merged.outcome.status == 204
    assert orjson.loads(base64.b64decode(merged.rows[0][6])) == {"a": 1, "b": 2}
    created = decide(command(op="post", body=b"text", content_type="text/plain"), [], 1)
    assert created.outcome.status == 204 and created.rows[0][7] == "text/plain"
    refused = decide(command(op="post", body=b"text", content_type="text/plain"), [stored()], 1)
    assert refused.outcome.status == 400 and not refused.rows


def test_delete_one_and_many() -> None:
    gone = decide(command(op="delete", body=b""), [stored()], 7)
    assert gone.outcome.status == 204 and gone.rows[0][10] == 1
    assert decide(command(op="delete"), [], 7).rows == []
    docs = [stored(), StoredDoc("d2", "", "", "", "", 1, 1, "rx", 1)]
    many = decide(command(op="delete", doc_id=None, registration=None), docs, 7)
    assert [r[5] for r in many.rows] == ["d1"], "already deleted documents get no new version"
