"""Request plumbing shared by the routes: the services object, authentication, version header."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable
from dataclasses import dataclass

from fastapi import Request, Response

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse
from lrs.service.auth.credentials import Client, CredentialStore
from lrs.service.consistency import Consistency
from lrs.service.errors import XAPIError
from lrs.service.publisher import Publisher
from lrs.service.statements.lookup import StoredLookup
from lrs.service.statements.recent import RecentIds
from lrs.service.statements.token import MoreTokens

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")
_VERSION = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")


@dataclass
class Services:
    """Everything a request handler needs, built once per process from the settings."""

    settings: Settings
    clickhouse: ClickHouse
    publisher: Publisher
    credentials: CredentialStore
    consistency: Consistency
    recent: RecentIds
    lookup: StoredLookup
    tokens: MoreTokens


def services(request: Request) -> Services:
    """The process's services (set on the app at start-up)."""
    return request.app.state.services


def xapi_version(request: Request) -> str:
    """The spec version the client speaks: ``1.0.3`` or ``2.0.0`` (400 if missing or unsupported)."""
    value = request.headers.get("x-experience-api-version")
    if value is None:
        raise XAPIError(400, "X-Experience-API-Version header is required")
    if not _VERSION.match(value.strip()):
        raise XAPIError(400, f"X-Experience-API-Version {value!r} is not supported; use 1.0.x or 2.0.x")
    return "2.0.0" if value.strip().startswith("2") else "1.0.3"


async def authenticate(request: Request, *scopes: str) -> Client:
    """The client of a Basic-auth request, required to hold one of ``scopes`` (401 / 403 otherwise)."""
    header = request.headers.get("authorization", "")
    challenge = {"WWW-Authenticate": 'Basic realm="xAPI"'}
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        raise XAPIError(401, "authentication required (HTTP Basic)", headers=challenge)
    try:
        key, _, secret = base64.b64decode(token, validate=True).decode("utf-8").partition(":")
    except ValueError:  # not base64 (binascii.Error), non-ASCII token characters, or not UTF-8 once decoded
        raise XAPIError(401, "malformed Basic credentials", headers=challenge) from None
    store = services(request).credentials
    client = store.cached(key, secret) or await asyncio.to_thread(store.authenticate, key, secret)
    if client is None:
        raise XAPIError(401, "unknown or revoked credentials", headers=challenge)
    headers = request.headers
    request.app.state.cors.check(headers.get("origin"), headers.get("host"), client.tenant, client.key)
    if scopes and not client.allows(*scopes):
        raise XAPIError(403, f"these credentials lack the scope for this request (one of: {', '.join(scopes)})")
    return client


async def read_response(request: Request, headers: dict[str, str], answer: Awaitable[Response]) -> Response:
    """Await a read handler's answer and put ``headers`` on it, error or not; HEAD gets the headers only."""
    try:
        response = await answer
    except XAPIError as exc:
        exc.headers.update(headers)
        raise
    response.headers.update(headers)
    if request.method == "HEAD":
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response
