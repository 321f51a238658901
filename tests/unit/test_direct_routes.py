"""lrs/service/direct.py: the hot route reaches its handler past FastAPI's router, answering as the router would."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request, Response

from lrs.service.direct import DirectRoutes
from lrs.service.errors import XAPIError

router = APIRouter()


@router.post("/hot")
async def hot(request: Request) -> Response:
    kind = request.headers.get("x-raise", "")
    if kind == "xapi":
        raise XAPIError(409, "conflict here")
    if kind == "os":
        raise OSError("store down")
    if kind == "bug":
        raise RuntimeError("a bug")
    # FastAPI's own request wrapper puts its exit stack in the scope; the direct path has none.
    routed = "fastapi_inner_astack" in request.scope
    return Response(f"{routed} {request.scope['route'].path} {(await request.body()).decode()}")


@router.get("/hot")
async def hot_read() -> Response:
    return Response("read")


@router.post("/with-param")
async def with_param(request: Request, q: str = "") -> Response:
    return Response(q)


def _app(direct: list[tuple[str, str]]) -> FastAPI:
    app = FastAPI()
    app.include_router(router)

    @app.exception_handler(XAPIError)
    async def xapi(_: Request, exc: XAPIError) -> Response:
        return Response(f"xapi {exc.status}", status_code=exc.status)

    @app.exception_handler(OSError)
    async def down(_: Request, exc: Exception) -> Response:
        return Response("down", status_code=503)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        return Response("outer", status_code=500)

    app.add_middleware(DirectRoutes, fastapi_app=app, router=router, routes=direct)
    return app


def _post(app: FastAPI, headers: dict[str, str] | None = None, method: str = "POST") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, "/hot", content=b"body", headers=headers or {})
    return asyncio.run(go())


def test_the_direct_route_skips_the_router_and_names_its_route() -> None:
    assert _post(_app([("POST", "/hot")])).text == "False /hot body"
    assert _post(_app([])).text == "True /hot body"  # without it, the router's path


def test_errors_get_the_apps_handlers_as_past_the_router() -> None:
    app = _app([("POST", "/hot")])
    conflict = _post(app, {"x-raise": "xapi"})
    assert (conflict.status_code, conflict.text) == (409, "xapi 409")
    down = _post(app, {"x-raise": "os"})
    assert (down.status_code, down.text) == (503, "down")
    # The handler of Exception is the outermost layer's, as for routed requests (the guard sees the error first).
    bug = _post(app, {"x-raise": "bug"})
    assert (bug.status_code, bug.text) == (500, "outer")


def test_other_methods_go_to_the_router() -> None:
    assert _post(_app([("POST", "/hot")]), method="GET").text == "read"


def test_routes_that_need_the_router_are_refused() -> None:
    app = _app([("POST", "/with-param")])
    with pytest.raises(ValueError, match="take parameters"):
        app.build_middleware_stack()
    with pytest.raises(ValueError, match="no route"):
        _app([("PUT", "/hot")]).build_middleware_stack()
