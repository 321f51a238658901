"""Per-request plumbing around every route, as plain ASGI middleware: body-size limit, metrics, version header.

Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware runs every request
through an extra task and stream pair, which cost a measurable share of a small POST's time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, MutableMapping
from typing import Any

import orjson

from lrs.service import metrics
from lrs.service.alternate import ASGIApp
from lrs.service.errors import XAPIError

Scope = MutableMapping[str, Any]
VERSION_HEADER = b"x-experience-api-version"


class RequestGuard:
    """Refuses oversized bodies (413), counts and times requests, and names the xAPI version spoken."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, default_version: str) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.default_version = default_version.encode()

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = dict(scope["headers"])
        spoken = self._spoken(scope["path"], headers.get(VERSION_HEADER, b"").strip())
        status = 500

        async def send_with_version(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if spoken is not None:
                    out = message.setdefault("headers", [])
                    if not any(k.lower() == VERSION_HEADER for k, _ in out):
                        out.append((b"X-Experience-API-Version", spoken))
            await send(message)

        try:
            length = headers.get(b"content-length", b"")
            if length.isdigit() and int(length) > self.max_body_bytes:
                error = XAPIError(413, f"request body larger than {self.max_body_bytes} bytes")
                await send_with_version({"type": "http.response.start", "status": 413,
                                         "headers": [(b"content-type", b"application/json")]})
                await send({"type": "http.response.body", "body": orjson.dumps(error.body())})
            else:
                await self.app(scope, receive, send_with_version)
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
