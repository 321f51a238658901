"""Metrics name tenants, so they are served on their own port for the operator's Prometheus, never on xAPI's."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import ManagedProcess, Pipeline, free_ports, statement, wait_until

pytestmark = pytest.mark.integration


def _accepted(text: str, tenant: str) -> float:
    pattern = rf'^lrs_statements_accepted_total\{{tenant="{re.escape(tenant)}"\}} ([0-9.e+]+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.MULTILINE))


def test_the_public_port_has_no_metrics_and_the_metrics_port_covers_every_worker(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    http_port, metrics_port = free_ports(2)
    env = {**pipeline.env, "LRS_HTTP_PORT": str(http_port), "LRS_METRICS_PORT": str(metrics_port)}
    server = ManagedProcess("lrs-metrics", ["serve", "--workers", "2"], env,
                            pipeline.lrs.log_path.with_name("lrs-metrics.log")).start()
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_until(lambda: httpx.get(f"{base}/xapi/about", timeout=1).status_code == 200, 60,
                   what=f"lrs serve --workers 2\n{server.log_tail()}")
        sent = 40
        with httpx.Client(base_url=base, auth=http.auth, headers=http.headers, timeout=30) as other:
            for _ in range(sent):  # new connections, so both worker processes take requests
                with httpx.Client(base_url=base, auth=http.auth, headers=http.headers, timeout=30) as fresh:
                    assert fresh.post("/xapi/statements", json=statement()).status_code == 200
            # The xAPI port: no metrics, and nothing an anonymous caller can reach names a tenant.
            for path in ("/metrics", "/metrics/", "/xapi/metrics", "/"):
                answer = httpx.get(f"{base}{path}", timeout=5)
                assert answer.status_code == 404, (path, answer.status_code)
                assert tenant not in answer.text
            assert tenant not in httpx.get(f"{base}/xapi/about", timeout=5).text
            assert other.get("/metrics").status_code == 404  # not with credentials either
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert _accepted(text, tenant) == sent, text[:2000]  # the sum over both worker processes
        assert 'lrs_http_requests_total{method="POST",route="/xapi/statements",status="200"}' in text
        assert "lrs_produce_seconds_count" in text
    finally:
        server.stop()
