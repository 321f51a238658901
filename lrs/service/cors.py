"""Cross-origin access for browser content (TinCanJS, cmi5 units, authoring-tool exports).

Two layers, because a browser's preflight carries no credentials:

1. Starlette's ``CORSMiddleware`` answers preflights and puts ``Access-Control-*`` headers on every
   response (errors included, so content can read a 401 or 400) for origins allowed *somewhere*: the
   global ``cors_origins`` plus every per-tenant / per-credential list.
2. After authentication, :meth:`CorsPolicy.check` refuses (403, nothing stored) a request whose
   ``Origin`` its tenant or credential does not allow. Without that, a preflight passed for one tenant's
   origin would let another tenant's credentials be used from it.

Browsers send Basic credentials in the Authorization header (no cookies), so ``*`` is safe to answer and
``Access-Control-Allow-Credentials`` is never sent: a browser's cached HTTP-auth login cannot be replayed
by another site.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from lrs.core.config import Settings
from lrs.service.errors import XAPIError

REQUEST_HEADERS = ("Authorization", "X-Experience-API-Version", "Content-Type", "If-Match", "If-None-Match",
                   "X-Requested-With", "Accept-Language")
EXPOSED_HEADERS = ("ETag", "Last-Modified", "X-Experience-API-Consistent-Through", "X-Experience-API-Version",
                   "Content-Type", "Location", "Retry-After", "WWW-Authenticate")
METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS")
PREFLIGHT_MAX_AGE_S = 7200  # Chromium's cap; Firefox allows a day


def _origins(values: list[str], where: str) -> frozenset[str]:
    out = set()
    for value in values:
        origin = value.strip().rstrip("/")
        if not origin:
            continue
        if origin != "*" and "://" not in origin:
            raise ValueError(f"{where}: {value!r} is not an origin (scheme://host[:port]) or '*'")
        # Scheme and host are case-insensitive; browsers send them lower-case.
        out.add(origin.lower())
    return frozenset(out)


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may call the xAPI: globally, and narrowed per tenant or per credential key."""

    global_origins: frozenset[str]
    tenants: dict[str, frozenset[str]] = field(default_factory=dict)
    keys: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> CorsPolicy:
        """Parse ``cors_origins`` and ``cors_tenant_origins`` (ValueError naming the mistake)."""
        tenants: dict[str, frozenset[str]] = {}
        keys: dict[str, frozenset[str]] = {}
        if settings.cors_tenant_origins.strip():
            try:
                mapping = orjson.loads(settings.cors_tenant_origins)
            except orjson.JSONDecodeError as exc:
                raise ValueError(f"LRS_CORS_TENANT_ORIGINS is not JSON: {exc}") from None
            if not isinstance(mapping, dict) or not all(
                    isinstance(v, list) and all(isinstance(o, str) for o in v) for v in mapping.values()):
                raise ValueError("LRS_CORS_TENANT_ORIGINS must map tenant (or 'key:KEY') to a list of origins")
            for name, values in mapping.items():
                origins = _origins(values, f"LRS_CORS_TENANT_ORIGINS[{name!r}]")
                if name.startswith("key:"):
                    keys[name[4:]] = origins
                else:
                    tenants[name] = origins
        return cls(_origins(settings.cors_origins.split(","), "LRS_CORS_ORIGINS"), tenants, keys)

    @property
    def preflight_origins(self) -> list[str]:
        """Every origin some client may use (a preflight cannot tell whose credentials follow)."""
        if "*" in self.global_origins:
            return ["*"]
        union = set(self.global_origins)
        for origins in (*self.tenants.values(), *self.keys.values()):
            union |= origins
        return ["*"] if "*" in union else sorted(union)

    def check(self, origin: str | None, host: str | None, tenant: str, key: str) -> None:
        """403 if a cross-origin request's origin is not allowed for this credential or its tenant."""
        if origin is None or (host and origin.partition("://")[2].rstrip("/").lower() == host.lower()):
            return  # not a browser's cross-origin request (server-to-server, curl, or same origin: /docs)
        allowed = self.keys.get(key)
        if allowed is None:
            allowed = self.tenants.get(tenant, self.global_origins)
        if "*" not in allowed and origin.rstrip("/").lower() not in allowed:
            raise XAPIError(403, f"origin {origin} is not allowed to use these credentials (CORS); "
                                 "ask the LRS operator to add it to LRS_CORS_TENANT_ORIGINS")


class OriginGate:
    """Sends only requests with an ``Origin`` header through ``CORSMiddleware``.

    Starlette's middleware does nothing for the others, but it parses the headers to find that out: about
    9 us per request measured here, against 1-2 us for this scan of the raw header list (server-to-server
    ingest, the hot path, sends no Origin).
    """

    def __init__(self, app: Any, **cors: Any) -> None:
        self.app = app
        self.cors = CORSMiddleware(app, **cors)

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and any(name == b"origin" for name, _ in scope["headers"]):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def add_cors(app: FastAPI, policy: CorsPolicy) -> None:
    """Install the middleware; call it last so it wraps every other middleware (their errors get CORS headers)."""
    app.add_middleware(OriginGate, allow_origins=policy.preflight_origins, allow_methods=list(METHODS),
                       allow_headers=list(REQUEST_HEADERS), expose_headers=list(EXPOSED_HEADERS),
                       allow_credentials=False, max_age=PREFLIGHT_MAX_AGE_S)
