"""Course structures of the authenticated tenant: ``PUT``/``GET /api/courses/structure``.

See lrs/service/courses.py.
"""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Request, Response

from lrs.core.xapi.jsontext import DuplicateKey, loads_unique
from lrs.service.courses import StructureError, current_structure, declare_structure
from lrs.service.errors import XAPIError
from lrs.service.publisher import BrokerUnavailable
from lrs.service.routes.deps import authenticate, services

router = APIRouter()


@router.put("/api/courses/structure")
async def put_structure(request: Request) -> Response:
    """Declare the ordered modules of one or more courses (replaces each course's previous declaration)."""
    client = await authenticate(request, "define")
    try:
        doc = loads_unique(await request.body())
    except orjson.JSONDecodeError:
        raise XAPIError(400, "the body must be JSON") from None
    except DuplicateKey as exc:
        raise XAPIError(400, str(exc)) from None
    svc = services(request)
    try:
        courses = await asyncio.to_thread(declare_structure, svc.settings, svc.clickhouse, svc.publisher.send,
                                          client.tenant, doc)
    except StructureError as exc:
        raise XAPIError(400, str(exc)) from None
    except BrokerUnavailable as exc:
        # The rows may be stored already; repeating the request re-declares and re-marks (idempotent).
        raise XAPIError(503, f"{exc}; retry later", headers={"Retry-After": "1"}) from None
    return Response(orjson.dumps({"courses": courses}), media_type="application/json")


@router.get("/api/courses/structure")
async def get_structure(request: Request) -> Response:
    """The tenant's current course structures."""
    client = await authenticate(request, "define", "all/read")
    courses = await asyncio.to_thread(current_structure, services(request).clickhouse, client.tenant)
    return Response(orjson.dumps({"courses": courses}), media_type="application/json")
