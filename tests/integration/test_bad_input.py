"""Hostile input: deep JSON, invalid UTF-8, wrong content types, oversized bodies, slow clients, SQL injection."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.support import Pipeline, statement


def _post_raw(http, body: bytes, content_type: str = "application/json"):
    return http.post("/xapi/statements", content=body, headers={"Content-Type": content_type})


@pytest.mark.parametrize(("name", "body", "content_type", "needle"), [
    ("deep array", b"[" * 100_000 + b"]" * 100_000, "application/json", "JSON"),
    ("deep extension", json.dumps({**statement(), "result": {"extensions": {
        "http://x.example.com/e": json.loads("[" * 300 + "]" * 300)}}}).encode(), "application/json", "deeper"),
    ("invalid UTF-8", b'{"actor":{"mbox":"mailto:a@b.c","name":"\xff\xfe"},"verb":{"id":"http://x.y/v"},'
                      b'"object":{"id":"http://x.y/o"}}', "application/json", "UTF-8"),
    ("not JSON", b"hello", "application/json", "JSON"),
    ("empty", b"", "application/json", "JSON"),
    ("JSON null", b"null", "application/json", "statement"),
    ("text/plain", json.dumps(statement()).encode(), "text/plain", "Content-Type"),
    ("form", b"a=b", "application/x-www-form-urlencoded", ""),
    ("multipart without boundary", json.dumps(statement()).encode(), "multipart/mixed", "boundary"),
])
def test_hostile_bodies_get_400_and_store_nothing(pipeline: Pipeline, name: str, body: bytes, content_type: str,
                                                  needle: str) -> None:
    tenant, http = pipeline.new_tenant()
    response = _post_raw(http, body, content_type)
    assert response.status_code == 400, (name, response.text)
    assert needle.lower() in response.json()["error"]["message"].lower()
    # Proof that nothing was written: a later good statement is the tenant's only one.
    good = statement()
    assert http.post("/xapi/statements", json=good).status_code == 200
    assert http.get("/xapi/statements").json()["statements"][0]["id"] == good["id"]
    assert pipeline.stored_count(tenant) == 1


def test_oversized_body_is_413_without_reading_it(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    limit = pipeline.settings.max_body_bytes
    response = _post_raw(http, b"[" + b" " * (limit + 10) + b"]")
    assert response.status_code == 413
    assert str(limit) in response.json()["error"]["message"]
    assert pipeline.stored_count(tenant) == 0


def test_huge_valid_batch_is_all_or_nothing(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    batch = [statement() for _ in range(5000)]
    batch[4321]["verb"] = {"id": "not an IRI"}
    response = http.post("/xapi/statements", json=batch)
    assert response.status_code == 400
    assert "4321" in response.json()["error"]["message"], "the error names the bad statement"
    assert pipeline.stored_count(tenant) == 0


def test_slow_client_does_not_block_others(pipeline: Pipeline) -> None:
    """A client that announces a body and never sends it does not stall other requests."""
    _, http = pipeline.new_tenant()
    slow = socket.create_connection(("127.0.0.1", pipeline.settings.http_port))
    try:
        slow.sendall(b"POST /xapi/statements HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"X-Experience-API-Version: 1.0.3\r\nContent-Length: 100000\r\n\r\n[")
        start = time.monotonic()
        for _ in range(5):
            assert http.post("/xapi/statements", json=statement()).status_code == 200
        assert time.monotonic() - start < 30
    finally:
        slow.close()


INJECTIONS = ["' OR 1=1 --", "x') OR ('1'='1", "\\'; DROP TABLE statements; --", "%(tenant)s", "{tenant}",
              "' UNION SELECT statement FROM statements --"]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_injection_through_every_filter_finds_nothing(pipeline: Pipeline, payload: str) -> None:
    victim, victim_http = pipeline.new_tenant()
    assert victim_http.post("/xapi/statements", json=statement()).status_code == 200
    _, attacker = pipeline.new_tenant()
    agent = json.dumps({"objectType": "Agent", "account": {"homePage": "http://x.example.com", "name": payload}})
    mbox_agent = json.dumps({"mbox": f"mailto:{payload.replace(' ', '')}@x.com"})
    for params in ({"verb": payload}, {"activity": payload}, {"agent": agent}, {"agent": mbox_agent},
                   {"activity": payload, "related_activities": "true"}, {"agent": agent, "related_agents": "true"},
                   {"registration": payload}, {"since": payload}, {"until": payload}, {"limit": payload},
                   {"format": payload}, {"statementId": payload}, {"voidedStatementId": payload}):
        response = attacker.get("/xapi/statements", params=params)
        assert response.status_code in (200, 400, 404), (params, response.text)
        if response.status_code == 200:
            assert response.json().get("statements", []) == [], params
    for path, params in (("/xapi/activities", {"activityId": payload}), ("/xapi/agents", {"agent": agent})):
        response = attacker.get(path, params=params)
        assert response.status_code in (200, 400), (path, response.text)
        if response.status_code == 200:
            assert "definition" not in response.json() and "name" not in response.json()
    # Nothing was dropped or altered.
    assert pipeline.stored_count(victim) == 1
