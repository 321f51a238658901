"""Issue 14 parts without services: the request guard as ASGI, strict JSON keys, IRIs and mboxes, the
boundary limit and the argon2 work spent on unknown keys."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson
import pytest
from starlette.requests import Request

from lrs.core.config import Settings
from lrs.core.xapi import XAPIValidationError, validate_statement
from lrs.core.xapi.common import is_iri
from lrs.core.xapi.jsontext import DuplicateKey, loads_unique
from lrs.service.auth import credentials
from lrs.service.auth.credentials import CredentialStore
from lrs.service.errors import XAPIError
from lrs.service.guard import RequestGuard
from lrs.service.statements.multipart import boundary_of

# ------------------------------------------------------------------------------------------ request guard


async def _reading_app(scope: dict, receive: Any, send: Any) -> None:
    """Reads the whole body like a route does (Starlette's Request.body), then answers 200 with its size."""
    try:
        body = await Request(scope, receive).body()
    except XAPIError as exc:  # what the app's exception handler does
        payload = orjson.dumps(exc.body())
        await send({"type": "http.response.start", "status": exc.status, "headers": []})
        await send({"type": "http.response.body", "body": payload})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


def _call(app: Any, chunks: list[bytes], headers: list[tuple[bytes, bytes]] | None = None,
          disconnect_after: int | None = None) -> tuple[list[dict], int]:
    """Run one request through ``RequestGuard(app)``; returns the messages sent and the chunks consumed."""
    guard = RequestGuard(app, max_body_bytes=1000, default_version="2.0.0", max_header_bytes=2000)
    sent: list[dict] = []
    consumed = 0

    async def receive() -> dict:
        nonlocal consumed
        if disconnect_after is not None and consumed >= disconnect_after:
            return {"type": "http.disconnect"}
        chunk = chunks[consumed]
        consumed += 1
        return {"type": "http.request", "body": chunk, "more_body": consumed < len(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/xapi/statements", "raw_path": b"/xapi/statements",
             "query_string": b"", "headers": headers or [(b"x-experience-api-version", b"1.0.3")]}
    asyncio.run(guard(scope, receive, send))
    return sent, consumed


def test_streamed_body_over_the_limit_stops_reading_with_413() -> None:
    sent, consumed = _call(_reading_app, [b"x" * 300] * 100)
    assert sent[0]["status"] == 413
    assert consumed == 4, "reading stops at the first chunk past the limit"
    assert json.loads(sent[1]["body"])["error"]["code"] == 413
    assert (b"X-Experience-API-Version", b"1.0.3") in sent[0]["headers"]


def test_streamed_body_within_the_limit_passes() -> None:
    sent, _ = _call(_reading_app, [b"x" * 250] * 4)
    assert (sent[0]["status"], sent[1]["body"]) == (200, b"1000")


def test_client_disconnect_mid_body_is_quiet() -> None:
    sent, _ = _call(_reading_app, [b"x" * 10] * 5, disconnect_after=2)  # no exception escapes
    assert sent == []


def test_oversized_head_is_431() -> None:
    headers = [(b"x-experience-api-version", b"1.0.3"), (b"x-filler", b"f" * 3000)]
    sent, consumed = _call(_reading_app, [b"{}"], headers=headers)
    assert sent[0]["status"] == 431 and consumed == 0


def test_a_bug_answers_500_in_xapi_form_with_the_version_and_still_raises() -> None:
    async def broken(scope: dict, receive: Any, send: Any) -> None:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        _call(broken, [b""])
    guard = RequestGuard(broken, max_body_bytes=10, default_version="2.0.0")
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {"type": "http", "method": "GET", "path": "/xapi/about", "raw_path": b"/xapi/about",
             "query_string": b"", "headers": []}
    with pytest.raises(RuntimeError):
        asyncio.run(guard(scope, receive, send))
    assert sent[0]["status"] == 500 and (b"X-Experience-API-Version", b"2.0.0") in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["error"]["code"] == 500


# ------------------------------------------------------------------------------------------ duplicate keys


@pytest.mark.parametrize("raw", [
    b'{"a":1,"a":2}', b'[{"x":{"k":1,"k":1}}]', b'{"a\\u003a":1,"a:":2}', b'{"x":[{"y":{"z":1}},{"y":1,"y":1}]}',
    b'{"k":"v:w","k":"v"}',
])
def test_repeated_keys_are_refused(raw: bytes) -> None:
    with pytest.raises(DuplicateKey):
        loads_unique(raw)


@pytest.mark.parametrize("raw", [
    b'{"a":1,"b":{"a":2}}', b'{"a":"x:y","b":"\\u003a"}', b'[{"a":1},{"a":1}]', b'"a:b"', b"1", b'{"":1," ":2}',
    b'{"a" : 1 , "b" :\n2}',
])
def test_distinct_keys_pass(raw: bytes) -> None:
    assert loads_unique(raw) == json.loads(raw)


# ------------------------------------------------------------------------------------------ IRIs, mbox, boundary


@pytest.mark.parametrize("value", ["http://[::1", "http://[::1]]/", "http://x]/", "http://[::1]x/", "http://[]/",
                                   "http://[1.2.3.4]/", "http://[fe80::1%eth0]/", "http://[zz::1]/"])
def test_broken_ip_literal_hosts_are_not_iris(value: str) -> None:
    assert not is_iri(value)


@pytest.mark.parametrize("value", ["http://[::1]/x", "http://[::1]", "https://[2001:db8::7]:8443/a?b=[c]",
                                   "http://u@[::1]/", "http://[v1.fe]/", "http://[fe80::1%25eth0]/",
                                   "http://x.y/a[1]", "urn:x:[y]", "mailto:a@b.c"])
def test_valid_iris_stay_valid(value: str) -> None:
    assert is_iri(value)


def _with_mbox(mbox: str) -> dict:
    return {"actor": {"mbox": mbox}, "verb": {"id": "http://x.y/v"}, "object": {"id": "http://x.y/o"}}


@pytest.mark.parametrize("mbox", ["mailto:<x>@y", "mailto:a@b@c", "mailto:a b@c.d", "mailto:a@" + "d" * 300,
                                  "mailto:" + "a" * 65 + "@x.y", "mailto:a(b)@c.d", 'mailto:"a"@b.c'])
def test_invalid_mboxes_are_refused(mbox: str) -> None:
    with pytest.raises(XAPIValidationError):
        validate_statement(_with_mbox(mbox))


@pytest.mark.parametrize("mbox", ["mailto:a@b.c", "mailto:first.last+tag@example.co.uk", "mailto:müller@bücher.de",
                                  "mailto:a.b@[192.0.2.1]", "mailto:" + "a" * 64 + "@" + "d" * 185 + ".com"])
def test_valid_mboxes_pass(mbox: str) -> None:
    validate_statement(_with_mbox(mbox))


def test_boundary_longer_than_70_characters_is_refused() -> None:
    assert boundary_of("multipart/mixed; boundary=" + "b" * 70) == "b" * 70
    with pytest.raises(XAPIError) as refused:
        boundary_of("multipart/mixed; boundary=" + "b" * 71)
    assert refused.value.status == 400


# ------------------------------------------------------------------------------------------ login work


class _NoRows:
    def run(self, name: str, params: dict) -> list:
        return []


def test_unknown_keys_cost_one_argon2_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    real = credentials.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

    class Counting:
        def hash(self, secret: str) -> str:
            return real.hash(secret)

        def verify(self, stored: str, secret: str) -> bool:
            verified.append(secret)
            return real.verify(stored, secret)

    monkeypatch.setattr(credentials, "_HASHER", Counting())
    store = CredentialStore(Settings(), _NoRows())
    for secret in ("wrong", "sécret", "密码"):  # non-ASCII secrets once gave 500 (compare_digest on str)
        assert store.authenticate("nokey", secret) is None
    assert verified == ["wrong", "sécret", "密码"]
