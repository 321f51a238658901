"""The About resource (no authentication) and the Prometheus endpoint."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from lrs.routes.deps import SUPPORTED_VERSIONS

router = APIRouter()


@router.get("/xapi/about")
async def about() -> Response:
    """Versions this LRS speaks."""
    return Response(orjson.dumps({"version": list(SUPPORTED_VERSIONS), "extensions": {}}),
                    media_type="application/json")


@router.get("/metrics", include_in_schema=False)
async def prometheus_metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
