"""The hot route straight to its handler, past FastAPI's router, dependency solving and exception middleware.

A single-statement POST spends about as much CPU in those layers (route matching over every route, the
request's dependency solving, two exception-handling wrappers and their exit stacks) as in validating the
statement: measured in-process, the event loop's CPU per request fell from 324-386 to 256-264 us without them
(docs/benchmarks.md). The handler is the same coroutine the router would call, its errors go to the same
exception handlers, and the route stays registered with FastAPI for the OpenAPI description and every other method.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute, APIRouter

Scope = MutableMapping[str, Any]


class DirectRoutes:
    """ASGI middleware (innermost): requests for ``routes`` go to their handler, everything else to the app."""

    def __init__(self, app: Any, fastapi_app: FastAPI, router: APIRouter, routes: list[tuple[str, str]]) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        # Only handlers that take the request alone: the router would inject nothing else.
        self.routes = {(method, path): route for route in router.routes if isinstance(route, APIRoute)
                       for method, path in routes if route.path == path and method in route.methods}
        missing = set(routes) - set(self.routes)
        if missing:
            raise ValueError(f"no route for {sorted(missing)}")
        injected = [r.path for r in self.routes.values() if r.dependant.dependencies or r.dependant.query_params]
        if injected:
            raise ValueError(f"routes {injected} take parameters or dependencies: only the router can call them")

    async def __call__(self, scope: Scope, receive: Callable, send: Callable) -> None:
        route = self.routes.get((scope.get("method", ""), scope.get("path", ""))) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route  # the request metrics' path label (lrs/service/guard.py)
        scope["endpoint"] = route.endpoint
        scope.setdefault("path_params", {})
        request = Request(scope, receive, send)
        try:
            response = await route.endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:  # as past the router: the guard and the outer layers deal with it
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Callable[[Request, Exception], Awaitable[Response]] | None:
        """The app's handler for ``exc``: the most specific class registered, as Starlette's ExceptionMiddleware
        looks it up (the handler of ``Exception`` is the outermost layer's: an aborted upload, a bug)."""
        handlers = self.fastapi_app.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers and cls is not Exception:
                return handlers[cls]  # type: ignore[return-value]
        return None
