"""xAPI 1.0.3 Alternate Request Syntax (Communication 1.3), as ASGI middleware.

``POST /xapi/...?method=PUT`` with an ``application/x-www-form-urlencoded`` body is rewritten into the
request it stands for: header-like form fields become headers, ``content`` becomes the body, the rest
become query parameters. xAPI 2.0 removed the syntax, so a 2.0 request using it gets 400.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable, Callable], Awaitable[None]]
HEADER_FIELDS = {"authorization", "x-experience-api-version", "content-type", "content-length", "if-match",
                 "if-none-match"}
METHODS = {"GET", "PUT", "POST", "DELETE", "HEAD"}


class AlternateRequestSyntax:
    """Rewrites alternate-syntax requests before routing; everything else passes untouched."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or b"method=" not in scope.get("query_string", b""):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        if "method" not in {k for k, _ in query}:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, self.max_body_bytes)
        if body is None:  # counted as it streamed in, like every other request (lrs/service/guard.py)
            await _error(send, 413, f"request body larger than {self.max_body_bytes} bytes")
            return
        try:
            rewritten, new_body = _rewrite(scope, query, body)
        except ValueError as exc:
            await _error(send, 400, str(exc))
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": new_body, "more_body": False}

        await self.app(rewritten, replay, send)


def _rewrite(scope: Scope, query: list[tuple[str, str]], body: bytes) -> tuple[Scope, bytes]:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if headers.get("x-experience-api-version", "").startswith("2"):
        raise ValueError("the alternate request syntax (method parameter) was removed in xAPI 2.0")
    if scope["method"] != "POST":
        raise ValueError("an alternate-syntax request must be sent as POST")
    if len(query) != 1:
        raise ValueError("an alternate-syntax request carries only the method parameter in its query string")
    method = query[0][1].upper()
    if method not in METHODS:
        raise ValueError(f"method {query[0][1]!r} is not an HTTP method the xAPI uses")
    if not headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        raise ValueError("an alternate-syntax request needs Content-Type application/x-www-form-urlencoded")
    try:
        form = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError):
        raise ValueError("the alternate-syntax body is not url-encoded form data") from None
    new_headers = {k: v for k, v in headers.items() if k not in ("content-type", "content-length")}
    params: list[tuple[str, str]] = []
    content = b""
    for key, value in form:
        if key.lower() in HEADER_FIELDS:
            new_headers[key.lower()] = value
        elif key == "content":
            content = value.encode("utf-8")
        else:
            params.append((key, value))
    if method in ("PUT", "POST") and not content:
        raise ValueError("an alternate-syntax PUT/POST needs a content form field")
    if new_headers.get("x-experience-api-version", "").startswith("2"):
        raise ValueError("the alternate request syntax (method parameter) was removed in xAPI 2.0")
    if content:
        new_headers.setdefault("content-type", "application/json")
    new_headers["content-length"] = str(len(content))
    rewritten = dict(scope)
    rewritten["method"] = method
    rewritten["query_string"] = urlencode(params).encode("latin-1")
    rewritten["headers"] = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in new_headers.items()]
    return rewritten, content


async def _read_body(receive: Callable, limit: int) -> bytes | None:
    """The request body, or None as soon as it passes ``limit`` bytes."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _error(send: Callable, status: int, message: str) -> None:
    body = orjson.dumps({"error": {"code": status, "message": message}})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
