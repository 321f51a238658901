"""The About resource (no authentication). Metrics are not served here: see lrs/service/metrics_export.py."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from lrs.service.routes.deps import SUPPORTED_VERSIONS

router = APIRouter()


@router.api_route("/xapi/about", methods=["GET", "HEAD"])
async def about(request: Request) -> Response:
    """Versions this LRS speaks.

    A client that announces a 1.0.x version is shown the 1.0.x versions only: 1.0-era clients
    (e.g. TinCanPython) reject an About document that lists a version they do not know.
    """
    asked = request.headers.get("x-experience-api-version", "").strip()
    versions = [v for v in SUPPORTED_VERSIONS if v.startswith("1.")] if asked.startswith("1.") else SUPPORTED_VERSIONS
    body = orjson.dumps({"version": list(versions), "extensions": {}})
    return Response(b"" if request.method == "HEAD" else body, media_type="application/json")
