"""The OpenAPI contract (lrs/service/openapi.py) as the real LRS serves it, and the LRS keeping to it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support import Pipeline

pytestmark = pytest.mark.integration


def test_contract_declares_every_xapi_operation(pipeline: Pipeline) -> None:
    schema = httpx.get(f"{pipeline.base_url}/openapi.json", timeout=10).json()
    xapi = {p: ops for p, ops in schema["paths"].items() if p.startswith("/xapi")}
    assert set(xapi) == {"/xapi/about", "/xapi/statements", "/xapi/agents", "/xapi/activities",
                         "/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile"}
    ids = [op["operationId"] for ops in schema["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, ops in xapi.items():
        for method, op in ops.items():
            if path != "/xapi/about":
                names = {p["name"] for p in op["parameters"]}
                assert "X-Experience-API-Version" in names, (method, path)
                assert {"400", "401"} <= set(op["responses"]), (method, path)
            if method in ("put", "post"):
                assert op["requestBody"]["content"], (method, path)
    documents = xapi["/xapi/activities/profile"]["put"]
    assert {"activityId", "profileId", "If-Match", "If-None-Match"} <= {p["name"] for p in documents["parameters"]}
    assert {"409", "412"} <= set(documents["responses"])
    assert httpx.get(f"{pipeline.base_url}/docs", timeout=10).status_code == 200, "Swagger UI"


def _example(param: dict) -> str:
    schema = param["schema"]
    return str(schema.get("example", {"integer": "1", "boolean": "true"}.get(schema.get("type", ""), "x")))


def test_answers_keep_to_the_declared_responses(pipeline: Pipeline) -> None:
    # Each operation with only its required parameters (example values), no body for writes: the status must be
    # one the contract declares, and never 5xx.
    _, http = pipeline.new_tenant()
    schema = http.get("/openapi.json").json()
    for path, ops in schema["paths"].items():
        if not path.startswith("/xapi"):
            continue
        for method, op in ops.items():
            params = {p["name"]: _example(p) for p in op.get("parameters", []) if p["required"] and p["in"] == "query"}
            response = http.request(method.upper(), path, params=params)
            assert response.status_code < 500, (method, path, response.text)
            assert str(response.status_code) in op["responses"], (method, path, response.status_code, response.text)


def test_bounded_schemathesis_run_finds_no_server_error(pipeline: Pipeline, tmp_path: Path) -> None:
    """Schemathesis fuzzes every /xapi operation from the contract (about a minute): no 5xx, only declared statuses."""
    pytest.importorskip("schemathesis")
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    key, secret = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1)).create(
        f"fuzz{uuid.uuid4().hex[:8]}")
    cli = Path(sys.executable).with_name("schemathesis")
    done = subprocess.run(
        [str(cli), "run", f"{pipeline.base_url}/openapi.json", "--auth", f"{key}:{secret}",
         "--checks", "not_a_server_error,status_code_conformance", "--max-examples", "10", "--max-time", "30",
         "--seed", "1", "--include-path-regex", "^/xapi", "--workers", "1", "--phases", "examples,coverage,fuzzing",
         "--warnings", "off"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:]
    assert "No issues found" in done.stdout
