"""The HTTP LRS: a FastAPI app built from the settings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
from clickhouse_driver.errors import Error as ClickHouseError
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.util.gctune import set_switch_interval, tune_gc
from lrs.core.util.malloctune import limit_arenas, trim_every
from lrs.service.alternate import AlternateRequestSyntax
from lrs.service.auth.credentials import CredentialStore
from lrs.service.consistency import Consistency
from lrs.service.cors import CorsPolicy, add_cors
from lrs.service.direct import DirectRoutes
from lrs.service.errors import XAPIError
from lrs.service.guard import RequestGuard
from lrs.service.openapi import install_openapi
from lrs.service.produced_board import ProducedBoard
from lrs.service.publisher import Publisher
from lrs.service.routes import about, courses, documents, resources, statements
from lrs.service.routes.deps import Services
from lrs.service.statements.lookup import StoredLookup
from lrs.service.statements.recent import RecentIds
from lrs.service.statements.token import MoreTokens


def build_services(settings: Settings) -> Services:
    """Connect the process's shared services (lazy: nothing needs to be up yet)."""
    clickhouse = ClickHouse(settings)
    # Offsets shared with the other LRS processes of this host, so read-your-writes holds whichever
    # process a client's GET reaches.
    board = ProducedBoard(Path(settings.state_dir) / "run" / f"produced-{settings.statements_topic}")
    publisher = Publisher(settings, board)
    return Services(
        settings=settings,
        clickhouse=clickhouse,
        publisher=publisher,
        credentials=CredentialStore(settings, clickhouse),
        consistency=Consistency(settings, clickhouse, publisher),
        recent=RecentIds(),
        lookup=StoredLookup(clickhouse),
        tokens=MoreTokens.from_settings(settings),
    )


def _error(exc: XAPIError) -> Response:
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json",
                    headers=exc.headers)


def create_app(settings: Settings, svc: Services | None = None) -> FastAPI:
    """The LRS application."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_arenas(settings.malloc_arenas)  # before the services' threads start (each may get an arena)
        app.state.services = svc or build_services(settings)
        tune_gc(settings.gc_thresholds)
        set_switch_interval(settings.gil_switch_interval_ms)
        trimming = asyncio.create_task(trim_every(settings.malloc_trim_s)) if settings.malloc_trim_s > 0 else None
        yield
        if trimming is not None:
            trimming.cancel()
        app.state.services.publisher.close()
        app.state.services.clickhouse.close()

    # Metrics are Prometheus' (lrs/service/metrics.py): FastAPI's OpenTelemetry hooks off, which otherwise look
    # for a configured provider on every request.
    app = FastAPI(title="xAPI LRS", version="0.1.0", lifespan=lifespan,
                  telemetry={"tracing": False, "metrics": False, "logs": False})
    app.state.cors = CorsPolicy.from_settings(settings)  # parsed up front: a bad setting fails at start-up
    app.include_router(about.router)
    app.include_router(statements.router)
    app.include_router(resources.router)
    app.include_router(documents.router)
    app.include_router(courses.router)
    install_openapi(app)

    @app.exception_handler(XAPIError)
    async def xapi_error(_: Request, exc: XAPIError) -> Response:
        return _error(exc)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        # A bug must still answer in xAPI form (and is logged with its traceback by the server).
        return _error(XAPIError(500, f"internal error ({type(exc).__name__}); nothing was stored"))

    @app.exception_handler(ClickHouseError)
    @app.exception_handler(OSError)
    @app.exception_handler(EOFError)
    async def store_down(_: Request, exc: Exception) -> Response:
        return _error(XAPIError(503, f"statement store unavailable ({type(exc).__name__}); retry later",
                                headers={"Retry-After": "1"}))

    @app.exception_handler(RequestValidationError)
    async def bad_parameters(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(XAPIError(400, f"{where}: {first.get('msg', 'invalid request')}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        return _error(XAPIError(exc.status_code, str(exc.detail)))

    # The middleware added last runs first: alternate-syntax requests are rewritten before the guard sees them,
    # and the guard (limits, metrics, version header) sees the direct routes too.
    app.add_middleware(DirectRoutes, fastapi_app=app, router=statements.router, routes=[("POST", "/xapi/statements")])
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes,
                       default_version=settings.xapi_default_version, max_header_bytes=settings.max_header_bytes)
    app.add_middleware(AlternateRequestSyntax, max_body_bytes=settings.max_body_bytes)
    # Outermost: preflights are answered before anything else, and the guard's and the alternate syntax's
    # own error responses (413, 400) get CORS headers too, so browser content can read them.
    add_cors(app, app.state.cors)
    return app


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` / multi-process serving: settings from the environment."""
    return create_app(Settings())
