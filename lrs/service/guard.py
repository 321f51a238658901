"""Per-request plumbing around every route, as plain ASGI middleware: size limits, metrics, version header.

Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every request
through an extra task and stream pair, which cost a measurable share of a small POST's time.

The body limit counts bytes as they stream in (a chunked body declares no length), so no route ever
holds more than ``max_body_bytes`` of a request. :class:`BoundedHttpToolsProtocol` bounds what the
server itself buffers: the request head, and what it discards after answering early.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson
from starlette.requests import ClientDisconnect
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lrs.service import metrics
from lrs.service.alternate import ASGIApp
from lrs.service.errors import XAPIError

Scope = MutableMapping[str, Any]
VERSION_HEADER = b"x-experience-api-version"
# Recorded for requests whose client went away before the answer (nginx's convention; never sent).
CLIENT_GONE = 499
# How long a connection refused at the head is kept open (input discarded) so the client reads the 431.
LINGER_S = 2.0


class BodyTooLarge(XAPIError):
    """The request body passed the limit while streaming in; a permanent error (413), never 'retry later'."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class RequestGuard:
    """Refuses oversized heads (431) and bodies (413), counts and times requests, names the xAPI version."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, default_version: str,
                 max_header_bytes: int = 64 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.default_version = default_version.encode()

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        spoken = self._spoken(scope["path"], headers.get(VERSION_HEADER, b"").strip())
        status = 500
        started = False

        async def send_with_version(message: dict[str, Any]) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                if spoken is not None:
                    out = message.setdefault("headers", [])
                    if not any(k.lower() == VERSION_HEADER for k, _ in out):
                        out.append((b"X-Experience-API-Version", spoken))
            await send(message)

        received = 0

        async def counted_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Raised into the route's body read: the route stops and the error handler answers 413.
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        try:
            length = headers.get(b"content-length", b"")
            if _head_size(scope) > self.max_header_bytes:
                await _answer(send_with_version, XAPIError(
                    431, f"request line and headers larger than {self.max_header_bytes} bytes"))
            elif length.isdigit() and int(length) > self.max_body_bytes:
                await _answer(send_with_version, BodyTooLarge(self.max_body_bytes))
            else:
                await self.app(scope, counted_receive, send_with_version)
        except BodyTooLarge as exc:
            # Raised where no route handler caught it (e.g. a body read in middleware).
            if started:
                raise
            await _answer(send_with_version, exc)
        except ClientDisconnect:
            # An aborted upload is the client's doing: nothing to answer and no traceback to log.
            status = CLIENT_GONE
        except Exception:
            # A bug: answer in xAPI form with the version header, then let the server log the traceback.
            if not started:
                await _answer(send_with_version, XAPIError(500, "internal error; nothing was stored"))
            raise
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.REQUESTS.labels(scope["method"], path, str(status)).inc()
            metrics.REQUEST_LATENCY.labels(scope["method"], path).observe(time.perf_counter() - start)

    def _spoken(self, path: str, asked: bytes) -> bytes | None:
        """The version named in the answer: the client's, or (without a valid header) the configured default."""
        if not path.startswith("/xapi"):
            return None
        if asked[:1] in (b"1", b"2"):
            return b"2.0.0" if asked.startswith(b"2") else b"1.0.3"
        # Without a (valid) version header we cannot know the client's version: the spec asks for the
        # latest version the LRS supports, configurable because 1.0.3-only clients expect 1.0.3.
        return self.default_version


def _head_size(scope: Scope) -> int:
    """Bytes of the request line and headers, about as sent (names, values, separators)."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) + 16
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
    return size


async def _answer(send: Callable, error: XAPIError) -> None:
    body = orjson.dumps(error.body())
    await send({"type": "http.response.start", "status": error.status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items())]})
    await send({"type": "http.response.body", "body": body})


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with bounds on what it buffers or reads for one request.

    httptools (llhttp) sets no limit on the request head and uvicorn adds none: a client could send
    headers until memory ran out. A head still incomplete after ``max_header_bytes`` gets 431 and the
    connection is closed. After the app answered early (413 before the whole body arrived), uvicorn
    reads and discards the rest so the client can read the answer; past ``max_discard_bytes`` it closes.
    Serve with ``uvicorn.run(..., http=functools.partial(BoundedHttpToolsProtocol, max_header_bytes=...))``.
    """

    def __init__(self, *args: Any, max_header_bytes: int = 64 * 1024, max_discard_bytes: int = 32 * 1024 * 1024,
                 default_version: str = "2.0.0", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = max_header_bytes
        self.max_discard_bytes = max_discard_bytes
        self.default_version = default_version.encode()
        self._head: int | None = None  # bytes of the current request head so far; None outside a head
        self._discarded = 0
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discard(len(data))
            return
        pending = self._head is not None
        super().data_received(data)
        if pending and self._head is not None and not self.transport.is_closing():
            # The whole chunk belonged to a head that is still incomplete (the chunk a head starts in is not
            # counted, so no body bytes of a pipelined request before it are): buffered is at most the limit
            # plus two reads.
            self._head += len(data)
            if self._head > self.max_header_bytes:
                self._refuse_head()

    def on_message_begin(self) -> None:
        self._head, self._discarded = 0, 0
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._head = None
        super().on_headers_complete()
        if self.cycle is not None:
            self.cycle.transport = OneWriteResponse(self.transport)

    def on_response_complete(self) -> None:
        cycle = self.cycle
        if cycle is not None and isinstance(cycle.transport, OneWriteResponse):
            cycle.transport.flush()  # a response without body bytes (HEAD, 204): its head alone
        super().on_response_complete()

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is not None and cycle.response_complete and not self.transport.is_closing():
            self._discard(len(body))
            return
        super().on_body(body)

    def _discard(self, size: int) -> None:
        self._discarded += size
        if self._discarded > self.max_discard_bytes:
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request it cannot parse, in xAPI form (JSON error body, version header)."""
        self._write_error(400, "Bad Request", f"malformed HTTP request: {msg}")
        self.transport.close()

    def _write_error(self, status: int, reason: str, message: str) -> None:
        body = orjson.dumps(XAPIError(status, message).body())
        self.transport.write(b"".join([
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\n" % (status, reason.encode()),
            b"content-length: %d\r\nconnection: close\r\nx-experience-api-version: %s\r\n\r\n"
            % (len(body), self.default_version), body]))

    def _refuse_head(self) -> None:
        self._write_error(431, "Request Header Fields Too Large",
                          f"request line and headers larger than {self.max_header_bytes} bytes")
        # Lingering close: closing with unread input would reset the connection, and the client, still
        # sending its head, might never read the answer. Discard what follows for a bounded time instead.
        self._refused = True
        self._discarded = 0
        self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


class OneWriteResponse:
    """A request's view of its connection that sends the response head together with the first body bytes.

    uvicorn writes the head and the body of a response separately: two ``send`` system calls, and on loopback
    two wake-ups of the client, for a 40-byte JSON answer (measured with a trivial app: the client's CPU per
    request fell by a fifth, requests/s rose by 20-35 %). Only a complete response head is held (never a
    ``100 Continue``, which the client waits for before sending its body), until the next write, the end of
    the response or the connection's close.
    """

    __slots__ = ("transport", "_head")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif data[:5] == b"HTTP/" and data[9:10] != b"1" and data.endswith(b"\r\n\r\n"):
            self._head = data
            return
        self.transport.write(data)

    def flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, ...: the connection's own
        return getattr(self.transport, name)
