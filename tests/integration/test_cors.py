"""Browser access from other origins (CORS) and multipart bodies as browsers and TinCanJS send and read them.

Against the real LRS: the session pipeline (default ``cors_origins='*'``) and a second LRS process on the
same stack with narrowed origins (global list plus per-tenant and per-credential lists).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest

from tests.support import ManagedProcess, Pipeline, free_ports, statement, wait_until

pytestmark = pytest.mark.integration
RESOURCES = ["/xapi/statements", "/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile",
             "/xapi/agents", "/xapi/activities", "/xapi/about"]
XAPI_HEADERS = {"authorization", "x-experience-api-version", "content-type", "if-match", "if-none-match"}
EXPOSED = {"etag", "last-modified", "x-experience-api-consistent-through", "x-experience-api-version"}
ORIGIN = "http://127.0.0.1:9"  # some other loopback origin: content served elsewhere
AGENT = json.dumps({"objectType": "Agent", "mbox": "mailto:cors@example.com"})


def preflight(base: str, path: str, origin: str, method: str = "PUT",
              headers: str = "authorization,content-type,if-match,if-none-match,x-experience-api-version"
              ) -> httpx.Response:
    """What a browser sends before a cross-origin request with xAPI headers."""
    return httpx.options(f"{base}{path}", headers={"Origin": origin, "Access-Control-Request-Method": method,
                                                   "Access-Control-Request-Headers": headers}, timeout=10)


def listed(response: httpx.Response, name: str) -> set[str]:
    """A comma-separated response header as a lower-case set."""
    return {v.strip().lower() for v in response.headers.get(name, "").split(",") if v.strip()}


def readable(response: httpx.Response, origin: str = ORIGIN) -> bool:
    """Whether a browser would hand this response to the page."""
    return response.headers.get("access-control-allow-origin") in ("*", origin)


@pytest.mark.parametrize("path", RESOURCES)
def test_preflight_is_answered_for_every_resource(pipeline: Pipeline, path: str) -> None:
    response = preflight(pipeline.base_url, path, ORIGIN)
    assert response.status_code == 200, response.text
    assert readable(response)
    assert listed(response, "access-control-allow-headers") >= XAPI_HEADERS
    assert {"get", "put", "post", "delete", "head"} <= listed(response, "access-control-allow-methods")
    assert "access-control-allow-credentials" not in response.headers, "Basic auth headers need no credentials mode"


def test_responses_expose_the_xapi_headers(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    http.headers["Origin"] = ORIGIN
    sent = statement()
    posted = http.post("/xapi/statements", json=sent)
    assert posted.status_code == 200 and readable(posted)
    got = http.get("/xapi/statements", params={"statementId": sent["id"]})
    assert got.status_code == 200 and readable(got)
    assert listed(got, "access-control-expose-headers") >= EXPOSED
    assert got.headers["x-experience-api-consistent-through"] and got.headers["x-experience-api-version"]
    params = {"activityId": "https://example.com/cors", "agent": AGENT, "stateId": "s"}
    put = http.put("/xapi/activities/state", params=params, json={"a": 1})
    assert put.status_code == 204 and readable(put) and put.headers["etag"]
    assert listed(put, "access-control-expose-headers") >= EXPOSED
    doc = http.get("/xapi/activities/state", params=params)
    assert doc.headers["etag"] == put.headers["etag"] and doc.headers["last-modified"] and readable(doc)


def test_error_responses_carry_cors_headers(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    origin = {"Origin": ORIGIN}
    unauthorized = httpx.get(f"{pipeline.base_url}/xapi/statements", auth=("nobody", "wrong"),
                             headers={**origin, "X-Experience-API-Version": "1.0.3"})
    assert unauthorized.status_code == 401 and readable(unauthorized)
    bad = http.get("/xapi/statements", params={"limit": "lots"}, headers=origin)
    assert bad.status_code == 400 and readable(bad) and bad.json()["error"]["message"]
    no_version = httpx.get(f"{pipeline.base_url}/xapi/statements", auth=http.auth, headers=origin)
    assert no_version.status_code == 400 and readable(no_version)
    too_big = http.post("/xapi/statements", content=b"[" + b" " * (pipeline.settings.max_body_bytes + 1) + b"]",
                        headers={**origin, "Content-Type": "application/json"})
    assert too_big.status_code == 413 and readable(too_big), "the request guard's own answer too"
    missing = http.get("/xapi/activities/profile", params={"activityId": "https://example.com/x",
                                                           "profileId": "absent"}, headers=origin)
    assert missing.status_code == 404 and readable(missing)


def test_alternate_request_syntax_from_another_origin(pipeline: Pipeline) -> None:
    # Old content posts forms (a "simple" request: no preflight); the answer must be readable, and errors too.
    key, secret = _credentials(pipeline, f"alt{uuid.uuid4().hex[:8]}")
    sent = statement()
    form = {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode(),
            "X-Experience-API-Version": "1.0.3", "Content-Type": "application/json", "content": json.dumps(sent),
            "statementId": sent["id"]}
    headers = {"Origin": ORIGIN, "Content-Type": "application/x-www-form-urlencoded"}
    response = httpx.post(f"{pipeline.base_url}/xapi/statements", params={"method": "PUT"},
                          content=urlencode(form), headers=headers)
    assert response.status_code == 204, response.text
    assert readable(response)
    got = httpx.get(f"{pipeline.base_url}/xapi/statements", params={"statementId": sent["id"]}, auth=(key, secret),
                    headers={"X-Experience-API-Version": "1.0.3"})
    assert got.json()["id"] == sent["id"]
    wrong = httpx.post(f"{pipeline.base_url}/xapi/statements", params={"method": "PATCH"}, content="a=b",
                       headers=headers)
    assert wrong.status_code == 400 and readable(wrong)


def _credentials(pipeline: Pipeline, tenant: str) -> tuple[str, str]:
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    return CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1)).create(tenant)


def _multipart(boundary: str, sent: dict, payload: bytes) -> bytes:
    sha2 = hashlib.sha256(payload).hexdigest()
    return (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(sent)}\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()


def _with_attachment(payload: bytes) -> dict:
    return statement(attachments=[{
        "usageType": "http://id.tincanapi.com/attachment/supporting_media", "display": {"en-US": "note"},
        "contentType": "text/plain", "length": len(payload), "sha2": hashlib.sha256(payload).hexdigest()}])


@pytest.mark.parametrize("boundary", ["----WebKitFormBoundaryAbC123", "xapi-lower-case"])
def test_multipart_boundary_is_case_sensitive_and_response_is_unquoted(pipeline: Pipeline, boundary: str) -> None:
    _, http = pipeline.new_tenant()
    payload = f"attached {boundary}".encode()
    sent = _with_attachment(payload)
    body = _multipart(boundary, sent, payload)
    posted = http.post("/xapi/statements", content=body,
                       headers={"Content-Type": f"multipart/mixed; boundary={boundary}"})
    assert posted.status_code == 200, posted.text
    got = http.get("/xapi/statements", params={"statementId": sent["id"], "attachments": "true"})
    assert got.status_code == 200
    content_type = got.headers["content-type"]
    assert content_type.startswith("multipart/mixed; boundary=") and '"' not in content_type
    returned = content_type.split("boundary=", 1)[1]
    assert got.content.startswith(f"--{returned}\r\n".encode()) and got.content.endswith(f"--{returned}--\r\n".encode())
    assert payload in got.content


def test_multipart_with_a_differently_cased_boundary_is_400(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    payload = b"x"
    body = _multipart("----WebKitFormBoundaryAbC123", _with_attachment(payload), payload)
    response = http.post("/xapi/statements", content=body,
                         headers={"Content-Type": "multipart/mixed; boundary=----webkitformboundaryabc123"})
    assert response.status_code == 400 and "case-sensitive" in response.json()["error"]["message"]


# --- narrowed origins: a second LRS process on the same stack ------------------------------------

ALLOWED, TENANT_ORIGIN, KEY_ORIGIN, EVIL = ("http://content.example", "http://b.example", "http://k.example",
                                            "http://evil.example")


@dataclass
class Narrowed:
    """The second LRS and three clients: tenant A (global list), tenant B (own list), a key with its own list."""

    base: str
    a: httpx.Client
    b: httpx.Client
    keyed: httpx.Client


def _client(pipeline: Pipeline, base: str, tenant: str) -> tuple[str, httpx.Client]:
    key, secret = _credentials(pipeline, tenant)
    return key, httpx.Client(base_url=base, auth=(key, secret), timeout=30,
                             headers={"X-Experience-API-Version": "1.0.3"})


@pytest.fixture(scope="module")
def narrowed(pipeline: Pipeline) -> Iterator[Narrowed]:
    (port,) = free_ports(1)
    base = f"http://127.0.0.1:{port}"
    suffix = uuid.uuid4().hex[:8]
    _, a = _client(pipeline, base, f"corsa{suffix}")
    _, b = _client(pipeline, base, f"corsb{suffix}")
    key, keyed = _client(pipeline, base, f"corsa{suffix}")
    env = {**pipeline.env, "LRS_HTTP_PORT": str(port), "LRS_CORS_ORIGINS": f"{ALLOWED}/",
           "LRS_CORS_TENANT_ORIGINS": json.dumps({f"corsb{suffix}": [TENANT_ORIGIN], f"key:{key}": [KEY_ORIGIN]})}
    lrs = ManagedProcess("lrs-cors", ["serve"], env, pipeline.lrs.log_path.with_name("lrs-cors.log")).start()
    try:
        wait_until(lambda: httpx.get(f"{base}/xapi/about", timeout=1).status_code == 200, 30,
                   what=f"the narrowed LRS\n{lrs.log_tail()}")
        yield Narrowed(base, a, b, keyed)
    finally:
        lrs.stop()


def test_preflight_from_allowed_and_disallowed_origins(narrowed: Narrowed) -> None:
    for origin in (ALLOWED, TENANT_ORIGIN, KEY_ORIGIN):
        response = preflight(narrowed.base, "/xapi/statements", origin)
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
        assert "origin" in listed(response, "vary")
    refused = preflight(narrowed.base, "/xapi/statements", EVIL)
    assert refused.status_code == 400, "answered (never 405), but without permission"
    assert "access-control-allow-origin" not in refused.headers
    odd_header = preflight(narrowed.base, "/xapi/statements", ALLOWED, headers="x-custom-secret")
    assert "access-control-allow-origin" not in odd_header.headers or odd_header.status_code == 400


def test_per_tenant_and_per_credential_origins_are_enforced(narrowed: Narrowed) -> None:
    # A request passed by a preflight for some origin still only works for the credentials that allow it.
    cases = [(narrowed.a, ALLOWED, 200), (narrowed.a, TENANT_ORIGIN, 403), (narrowed.a, EVIL, 403),
             (narrowed.b, TENANT_ORIGIN, 200), (narrowed.b, ALLOWED, 403),
             (narrowed.keyed, KEY_ORIGIN, 200), (narrowed.keyed, ALLOWED, 403), (narrowed.a, None, 200)]
    for client, origin, status in cases:
        headers = {"Origin": origin} if origin else {}
        response = client.get("/xapi/statements", params={"limit": "1"}, headers=headers)
        assert response.status_code == status, (origin, response.text)
        if status == 403:
            assert "origin" in response.json()["error"]["message"].lower()
    # A refused write stores nothing.
    sent = statement()
    assert narrowed.b.post("/xapi/statements", json=sent, headers={"Origin": ALLOWED}).status_code == 403
    found = narrowed.b.get("/xapi/statements", params={"statementId": sent["id"]})
    assert found.status_code == 404
