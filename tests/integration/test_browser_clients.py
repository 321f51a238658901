"""Real JavaScript xAPI clients, unchanged.

E-learning content in a browser: TinCanJS (npm ``tincanjs``) in headless Chromium, on a page served from
another loopback origin than the LRS, so every call is a cross-origin (CORS) request.
tests/browser/run_tincan.mjs drives /usr/bin/chromium through ``playwright-core`` and prints what the page
(tests/browser/tincan_page.js) recorded; the results are then checked here and against the LRS itself.
The same operations with ``@xapi/xapi`` in node (tests/browser/run_xapi_node.mjs), for xAPI 1.0.3 and 2.0.0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.support import ManagedProcess, Pipeline, free_ports, wait_until

pytestmark = pytest.mark.integration
BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
OPERATIONS = ["save statement", "save batch", "save statement with attachment", "query with more", "void",
              "state with ETags", "activity profile with ETags", "read statement with attachments=true",
              "query statements with attachments=true"]


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return "tests/browser/node_modules missing: run scripts/setup.sh (npm ci)"
    if not Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium missing: run scripts/setup.sh"
    return None


@pytest.fixture(scope="module")
def page_origin() -> Iterator[str]:
    """tests/browser served by a plain static server on another port: a different origin from the LRS."""
    if reason := _missing():
        pytest.skip(reason)
    (port,) = free_ports(1)
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(BROWSER_DIR)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    origin = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: httpx.get(f"{origin}/tincan_page.html", timeout=1).status_code == 200, 15,
                   what="the static page server")
        yield origin
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_tincanjs_in_chromium_from_another_origin(pipeline: Pipeline, page_origin: str, tmp_path: Path) -> None:
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    tenant = f"browser{uuid.uuid4().hex[:8]}"
    key, secret = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1)).create(tenant)
    run = uuid.uuid4().hex[:10]
    query = urlencode({"endpoint": f"{pipeline.base_url}/xapi/", "key": key, "secret": secret, "run": run})
    done = subprocess.run(["node", str(BROWSER_DIR / "run_tincan.mjs"), f"{page_origin}/tincan_page.html?{query}",
                           str(tmp_path / "profile")], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    results = {r["op"]: r for r in report["results"]}
    failed = [r for r in report["results"] if not r["ok"]]
    assert report["finished"] and not failed, (failed, report["console"])
    assert list(results) == OPERATIONS, report

    # What the browser did is really stored: 5 statements about the run's activity (one voided) and the
    # voiding one, which an activity query also returns (it targets a matching statement: xAPI 2.1.3).
    http = httpx.Client(base_url=pipeline.base_url, auth=(key, secret), timeout=30,
                        headers={"X-Experience-API-Version": "1.0.3"})
    stored = http.get("/xapi/statements", params={"activity": f"https://example.com/browser/{run}"}).json()
    verbs = sorted(s["verb"]["id"].rsplit("/", 1)[-1] for s in stored["statements"])
    assert verbs == ["commented", "progressed", "progressed", "progressed", "voided"]
    assert pipeline.stored_count(tenant) == 6
    assert any(s.get("attachments") for s in stored["statements"])


def test_tincanjs_is_blocked_where_the_origin_is_not_allowed(pipeline: Pipeline, page_origin: str,
                                                             tmp_path: Path) -> None:
    """The control: an LRS allowing no origins. Chromium refuses the calls and nothing is stored."""
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    (port,) = free_ports(1)
    env = {**pipeline.env, "LRS_HTTP_PORT": str(port), "LRS_CORS_ORIGINS": ""}
    closed = ManagedProcess("lrs-closed", ["serve"], env, pipeline.lrs.log_path.with_name("lrs-closed.log")).start()
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{base}/xapi/about", timeout=1).status_code == 200, 30,
                   what=f"the closed LRS\n{closed.log_tail()}")
        tenant = f"closed{uuid.uuid4().hex[:8]}"
        key, secret = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1)).create(tenant)
        query = urlencode({"endpoint": f"{base}/xapi/", "key": key, "secret": secret, "run": uuid.uuid4().hex[:10]})
        done = subprocess.run(["node", str(BROWSER_DIR / "run_tincan.mjs"), f"{page_origin}/tincan_page.html?{query}",
                               str(tmp_path / "profile")], cwd=BROWSER_DIR, capture_output=True, text=True,
                              timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(done.stdout.strip().splitlines()[-1])
        assert report["results"][0]["op"] == "save statement" and not report["results"][0]["ok"], report
        assert any("CORS policy" in line for line in report["console"]), report["console"]
        # Asked without an Origin (a server, not a browser), the same LRS shows nothing was stored.
        stored = httpx.get(f"{base}/xapi/statements", auth=(key, secret), timeout=30,
                           headers={"X-Experience-API-Version": "1.0.3"})
        assert stored.status_code == 200 and stored.json()["statements"] == []
    finally:
        closed.stop()


@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])
def test_xapi_js_in_node(pipeline: Pipeline, version: str) -> None:
    # @xapi/xapi with its "fetch" adapter (see tests/browser/run_xapi_node.mjs for why not axios in node).
    if reason := _missing():
        pytest.skip(reason)
    from lrs.core.store.clickhouse import ClickHouse
    from lrs.service.auth.credentials import CredentialStore

    tenant = f"xapijs{uuid.uuid4().hex[:8]}"
    key, secret = CredentialStore(pipeline.settings, ClickHouse(pipeline.settings, size=1)).create(tenant)
    done = subprocess.run(["node", str(BROWSER_DIR / "run_xapi_node.mjs"), f"{pipeline.base_url}/xapi", key, secret,
                           uuid.uuid4().hex[:10]], cwd=BROWSER_DIR, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "XAPI_ADAPTER": "fetch", "XAPI_VERSION": version})
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    failed = [r for r in report["results"] if not r["ok"]]
    assert report["finished"] and not failed, failed
    assert [r["op"] for r in report["results"]] == OPERATIONS
    assert pipeline.stored_count(tenant) == 6
