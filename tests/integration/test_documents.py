"""The Document resources end to end: HTTP -> Kafka command -> single writer -> ClickHouse -> GET."""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from tests.support import ManagedProcess, Pipeline, free_ports, wait_until

pytestmark = pytest.mark.integration
STATE, ACTIVITY_PROFILE, AGENT_PROFILE = "/xapi/activities/state", "/xapi/activities/profile", "/xapi/agents/profile"
ACTIVITY = "https://example.com/activities/doc-test"


def agent(name: str = "learner") -> str:
    """An agent query parameter (JSON)."""
    return json.dumps({"objectType": "Agent", "mbox": f"mailto:{name}@example.com"})


def params_for(path: str, doc_id: str | None = None, **extra: str) -> dict[str, str]:
    """The identifying parameters of a resource (a fresh activity per call keeps tests apart)."""
    params: dict[str, str] = {}
    if path in (STATE, ACTIVITY_PROFILE):
        params["activityId"] = extra.pop("activityId", ACTIVITY)
    if path in (STATE, AGENT_PROFILE):
        params["agent"] = extra.pop("agent", agent())
    if doc_id is not None:
        params["stateId" if path == STATE else "profileId"] = doc_id
    params.update(extra)
    return params


def quoted_sha1(content: bytes) -> str:
    return '"' + hashlib.sha1(content).hexdigest() + '"'


@pytest.mark.parametrize("path", [STATE, ACTIVITY_PROFILE, AGENT_PROFILE])
def test_round_trip(pipeline: Pipeline, path: str) -> None:
    _, http = pipeline.new_tenant()
    params = params_for(path, "doc-1")
    body = b'{"progress":0.5,"bookmark":"p3"}'
    put = http.put(path, params=params, content=body, headers={"Content-Type": "application/json",
                                                                "If-None-Match": "*"})
    assert put.status_code == 204, put.text
    got = http.get(path, params=params)
    assert got.status_code == 200, got.text
    assert got.content == body
    assert got.headers["content-type"] == "application/json"
    assert got.headers["etag"] == quoted_sha1(body)
    assert got.headers["last-modified"].endswith("GMT")
    head = http.head(path, params=params)
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == quoted_sha1(body)
    assert http.get(path, params=params_for(path)).json() == ["doc-1"]
    assert http.delete(path, params=params, headers={"If-Match": quoted_sha1(body)}).status_code == 204
    missing = http.get(path, params=params)
    assert missing.status_code == 404 and "error" in missing.json()
    assert http.get(path, params=params_for(path)).json() == []


def test_binary_content_and_type_are_preserved(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    params = params_for(STATE, "blob")
    body = bytes(range(256)) * 4
    assert http.put(STATE, params=params, content=body, headers={"Content-Type": "image/png"}).status_code == 204
    got = http.get(STATE, params=params)
    assert got.content == body and got.headers["content-type"] == "image/png"
    assert got.headers["etag"] == quoted_sha1(body)


def test_ids_since_and_registration(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    registration = str(uuid.uuid4())
    assert http.put(STATE, params=params_for(STATE, "first"), content=b"1").status_code == 204
    time.sleep(0.05)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.05)
    second = params_for(STATE, "second", registration=registration)
    assert http.put(STATE, params=second, content=b"2").status_code == 204
    assert http.get(STATE, params=params_for(STATE)).json() == ["first", "second"]
    assert http.get(STATE, params=params_for(STATE, since=middle)).json() == ["second"]
    assert http.get(STATE, params=params_for(STATE, registration=registration)).json() == ["second"]
    # The same stateId with and without a registration are two documents.
    assert http.get(STATE, params=params_for(STATE, "second")).status_code == 404
    assert http.get(STATE, params=params_for(STATE, "second", registration=registration)).content == b"2"


def test_delete_without_state_id_deletes_the_set(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    registration = str(uuid.uuid4())
    for doc in ("a", "b"):
        assert http.put(STATE, params=params_for(STATE, doc), content=b"x").status_code == 204
        registered = params_for(STATE, doc, registration=registration)
        assert http.put(STATE, params=registered, content=b"y").status_code == 204
    other = params_for(STATE, "kept", activityId=ACTIVITY + "/other")
    assert http.put(STATE, params=other, content=b"z").status_code == 204

    assert http.delete(STATE, params=params_for(STATE, registration=registration)).status_code == 204
    assert http.get(STATE, params=params_for(STATE, registration=registration)).json() == []
    assert http.get(STATE, params=params_for(STATE)).json() == ["a", "b"]
    assert http.delete(STATE, params=params_for(STATE)).status_code == 204
    assert http.get(STATE, params=params_for(STATE)).json() == []
    assert http.get(STATE, params=other).content == b"z", "another activity's state must survive"


def test_post_merges_json_objects(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    params = params_for(ACTIVITY_PROFILE, "merged")
    assert http.post(ACTIVITY_PROFILE, params=params, json={"car": "Honda", "o": {"x": 1}}).status_code == 204
    assert http.post(ACTIVITY_PROFILE, params=params, json={"type": "Civic", "o": {"y": 2}}).status_code == 204
    assert http.get(ACTIVITY_PROFILE, params=params).json() == {"car": "Honda", "type": "Civic", "o": {"y": 2}}


def test_bad_merges_are_refused_and_change_nothing(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    params = params_for(AGENT_PROFILE, "json")
    assert http.post(AGENT_PROFILE, params=params, json={"a": 1}).status_code == 204
    text = http.post(AGENT_PROFILE, params=params, content=b"abc", headers={"Content-Type": "text/plain"})
    assert text.status_code == 400 and text.json()["error"]["message"]
    broken = http.post(AGENT_PROFILE, params=params, content=b'{"a":', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400
    assert http.post(AGENT_PROFILE, params=params, json=[1, 2]).status_code == 400
    assert http.get(AGENT_PROFILE, params=params).json() == {"a": 1}

    octets = params_for(AGENT_PROFILE, "octets")
    assert http.put(AGENT_PROFILE, params=octets, content=b"raw", headers={"Content-Type": "application/octet-stream",
                                                                          "If-None-Match": "*"}).status_code == 204
    assert http.post(AGENT_PROFILE, params=octets, json={"a": 1}).status_code == 400
    assert http.get(AGENT_PROFILE, params=octets).content == b"raw"


def test_preconditions(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    params = params_for(ACTIVITY_PROFILE, "guarded")
    assert http.put(ACTIVITY_PROFILE, params=params, json={"v": 1}, headers={"If-Match": "*"}).status_code == 412
    assert http.put(ACTIVITY_PROFILE, params=params, json={"v": 1}, headers={"If-None-Match": "*"}).status_code == 204
    etag = http.get(ACTIVITY_PROFILE, params=params).headers["etag"]
    assert http.put(ACTIVITY_PROFILE, params=params, json={"v": 2}, headers={"If-None-Match": "*"}).status_code == 412
    conflict = http.put(ACTIVITY_PROFILE, params=params, json={"v": 2})
    assert conflict.status_code == 409 and "If-Match" in conflict.json()["error"]["message"]
    stale = '"' + "1" * 40 + '"'
    for method in ("PUT", "POST"):
        response = http.request(method, ACTIVITY_PROFILE, params=params, json={"v": 3}, headers={"If-Match": stale})
        assert response.status_code == 412
    assert http.delete(ACTIVITY_PROFILE, params=params, headers={"If-Match": stale}).status_code == 412
    assert http.get(ACTIVITY_PROFILE, params=params).json() == {"v": 1}
    assert http.put(ACTIVITY_PROFILE, params=params, json={"v": 4}, headers={"If-Match": etag}).status_code == 204
    assert http.get(ACTIVITY_PROFILE, params=params).json() == {"v": 4}


@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])
@pytest.mark.parametrize("path", [ACTIVITY_PROFILE, AGENT_PROFILE])
def test_profile_put_without_headers_creates_new_but_conflicts_on_existing(pipeline: Pipeline, version: str,
                                                                           path: str) -> None:
    # Both versions: "If a PUT request is received without either header for a resource that already
    # exists, the LRS MUST return 409" -- a new document is created (TinCanPython relies on it).
    _, http = pipeline.new_tenant()
    http.headers["X-Experience-API-Version"] = version
    params = params_for(path, "fresh")
    created = http.put(path, params=params, json={"v": 1})
    assert created.status_code == 204 and created.headers["etag"]
    conflict = http.put(path, params=params, json={"v": 2})
    assert conflict.status_code == 409 and "If-Match" in conflict.json()["error"]["message"]
    assert http.get(path, params=params).json() == {"v": 1}
    updated = http.put(path, params=params, json={"v": 3}, headers={"If-Match": created.headers["etag"]})
    assert updated.status_code == 204
    assert http.get(path, params=params).json() == {"v": 3}


@contextlib.contextmanager
def _second_lrs(pipeline: Pipeline, name: str, **env: str) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """Another LRS process on the pipeline (with extra settings): clients of one new tenant for (it, the pipeline's)."""
    (port,) = free_ports(1)
    process_env = {**pipeline.env, "LRS_HTTP_PORT": str(port), **env}
    second = ManagedProcess(name, ["serve"], process_env, pipeline.lrs.log_path.with_name(f"{name}.log")).start()
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).status_code == 200, 30,
                   what=f"the LRS {name}\n{second.log_tail()}")
        _, first = pipeline.new_tenant()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=first.auth, headers=first.headers,
                          timeout=30) as other, first:
            yield other, first
    finally:
        second.stop()


def test_strict_profile_puts_for_the_103_suite(pipeline: Pipeline) -> None:
    """profile_put_requires_precondition: 1.0.x PUTs creating a profile without a header get 400 (ADL 1.0.3 suite)."""
    with _second_lrs(pipeline, "lrs-strict", LRS_PROFILE_PUT_REQUIRES_PRECONDITION="true") as (http, _):
        params = params_for(AGENT_PROFILE, "strict")
        refused = http.put(AGENT_PROFILE, params=params, json={"v": 1})
        assert refused.status_code == 400 and "If-Match" in refused.json()["error"]["message"]
        v2 = {"X-Experience-API-Version": "2.0.0"}
        assert http.put(AGENT_PROFILE, params=params, json={"v": 1}, headers=v2).status_code == 204, "2.0 creates"
        assert http.put(AGENT_PROFILE, params=params, json={"v": 2}).status_code == 409
        assert http.put(STATE, params=params_for(STATE, "s"), json={"v": 1}).status_code == 204, "State unaffected"


def test_state_put_without_headers_depends_on_the_version(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    params = params_for(STATE, "s")
    assert http.put(STATE, params=params, json={"v": 1}).status_code == 204
    assert http.put(STATE, params=params, json={"v": 2}).status_code == 204, "1.0.3 lets State PUT overwrite"
    v2 = {"X-Experience-API-Version": "2.0.0"}
    assert http.put(STATE, params=params, json={"v": 3}, headers=v2).status_code == 409, "2.0 requires a header"
    assert http.put(STATE, params=params_for(STATE, "new"), json={"v": 1}, headers=v2).status_code == 204
    assert http.get(STATE, params=params).json() == {"v": 2}


@pytest.mark.parametrize(("path", "params", "why"), [
    (STATE, {"agent": agent(), "stateId": "s"}, "activityId"),
    (STATE, {"activityId": ACTIVITY, "stateId": "s"}, "agent"),
    (STATE, {"activityId": ACTIVITY, "agent": "{not json", "stateId": "s"}, "agent"),
    (STATE, {"activityId": ACTIVITY, "agent": '{"mbox":"nobody"}', "stateId": "s"}, "agent"),
    (STATE, {"activityId": ACTIVITY, "agent": agent(), "stateId": "s", "registration": "nope"}, "registration"),
    (STATE, {"activityId": ACTIVITY, "agent": agent()}, "stateId"),
    (ACTIVITY_PROFILE, {"activityId": ACTIVITY}, "profileId"),
    (AGENT_PROFILE, {"profileId": "p"}, "agent"),
])
def test_invalid_write_parameters(pipeline: Pipeline, path: str, params: dict[str, str], why: str) -> None:
    _, http = pipeline.new_tenant()
    response = http.put(path, params=params, json={"a": 1}, headers={"If-None-Match": "*"})
    assert response.status_code == 400
    assert why in response.json()["error"]["message"]


def test_invalid_read_parameters(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    assert http.get(STATE, params=params_for(STATE, since="not a timestamp")).status_code == 400
    assert http.get(AGENT_PROFILE, params={"agent": "true"}).status_code == 400
    assert http.delete(AGENT_PROFILE, params=params_for(AGENT_PROFILE)).status_code == 400, "profileId required"
    del http.headers["X-Experience-API-Version"]
    assert http.get(STATE, params=params_for(STATE)).status_code == 400


def test_tenants_are_isolated(pipeline: Pipeline) -> None:
    _, alice = pipeline.new_tenant()
    _, bob = pipeline.new_tenant()
    params = params_for(ACTIVITY_PROFILE, "secret")
    assert alice.put(ACTIVITY_PROFILE, params=params, json={"a": 1}, headers={"If-None-Match": "*"}).status_code == 204
    assert bob.get(ACTIVITY_PROFILE, params=params).status_code == 404
    assert bob.get(ACTIVITY_PROFILE, params=params_for(ACTIVITY_PROFILE)).json() == []
    # Bob's writes create his own document and never touch Alice's.
    assert bob.put(ACTIVITY_PROFILE, params=params, json={"b": 1}, headers={"If-None-Match": "*"}).status_code == 204
    assert bob.delete(ACTIVITY_PROFILE, params=params).status_code == 204
    assert bob.delete(STATE, params=params_for(STATE)).status_code == 204
    assert alice.get(ACTIVITY_PROFILE, params=params).json() == {"a": 1}
    assert alice.get(ACTIVITY_PROFILE, params=params_for(ACTIVITY_PROFILE)).json() == ["secret"]


def test_scopes(pipeline: Pipeline) -> None:
    _, statements_only = pipeline.new_tenant(scopes=("statements/write",))
    assert statements_only.put(STATE, params=params_for(STATE, "s"), json={}).status_code == 403
    assert statements_only.get(STATE, params=params_for(STATE)).status_code == 403
    _, state_only = pipeline.new_tenant(scopes=("state",))
    assert state_only.put(STATE, params=params_for(STATE, "s"), json={}).status_code == 204
    assert state_only.post(AGENT_PROFILE, params=params_for(AGENT_PROFILE, "p"), json={}).status_code == 403
    _, reader = pipeline.new_tenant(scopes=("all/read",))
    assert reader.get(AGENT_PROFILE, params=params_for(AGENT_PROFILE)).status_code == 200
    assert reader.delete(AGENT_PROFILE, params=params_for(AGENT_PROFILE, "p")).status_code == 403


def test_conditional_puts_across_two_lrs_processes(pipeline: Pipeline) -> None:
    """Many PUTs with the same If-Match, through two LRS processes at once: exactly one wins."""
    with _second_lrs(pipeline, "lrs2") as (other, first):
        params = params_for(AGENT_PROFILE, "contended")
        created = first.put(AGENT_PROFILE, params=params, json={"n": -1}, headers={"If-None-Match": "*"})
        assert created.status_code == 204
        etag = other.get(AGENT_PROFILE, params=params).headers["etag"]

        def attempt(n: int) -> int:
            client = first if n % 2 else other
            return client.put(AGENT_PROFILE, params=params, json={"n": n}, headers={"If-Match": etag}).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(attempt, range(24)))
        assert sorted(statuses) == [204] + [412] * 23, statuses
        winner = first.get(AGENT_PROFILE, params=params)
        assert winner.json()["n"] in range(24)
        assert other.get(AGENT_PROFILE, params=params).headers["etag"] == winner.headers["etag"]


def _rows_of(pipeline: Pipeline, table: str, request_id: str) -> int:
    client = pipeline.clickhouse()
    try:
        return int(client.execute(f"SELECT count() FROM {table} WHERE request_id = %(r)s", {"r": request_id})[0][0])
    finally:
        client.disconnect()


@contextlib.contextmanager
def _merges_stopped(pipeline: Pipeline) -> Iterator[None]:
    """Row counts tell one application from two only while no background merge collapses row versions."""
    def merges(action: str) -> None:
        client = pipeline.clickhouse()
        try:
            for table in ("documents", "document_results"):
                client.execute(f"SYSTEM {action} MERGES {table}")
        finally:
            client.disconnect()

    merges("STOP")
    try:
        yield
    finally:
        merges("START")


def test_redelivered_commands_are_applied_once(pipeline: Pipeline) -> None:
    """At-least-once: the same command delivered again, even after a later write, changes nothing."""
    from lrs.core.documents.commands import REQUIRE, DocumentCommand
    from lrs.service.publisher import Publisher

    tenant, http = pipeline.new_tenant()
    command = DocumentCommand(request_id=str(uuid.uuid4()), tenant=tenant, resource="activity_profile",
                              activity_id=ACTIVITY, agent="", registration="", doc_id="dup", op="put",
                              if_none_match="*", no_precondition=REQUIRE, content_type="application/json",
                              body=b'{"n":1}')
    with _merges_stopped(pipeline), contextlib.closing(Publisher(pipeline.settings)) as publisher:
        key = command.document_set.key()
        publisher.send(pipeline.settings.documents_topic, key, command.encode())
        publisher.send(pipeline.settings.documents_topic, key, command.encode())
        params = params_for(ACTIVITY_PROFILE, "dup")
        etag = wait_until(lambda: http.get(ACTIVITY_PROFILE, params=params).headers.get("etag"), 20,
                          what="the produced command to be applied")
        assert http.put(ACTIVITY_PROFILE, params=params, json={"n": 2}, headers={"If-Match": etag}).status_code == 204
        publisher.send(pipeline.settings.documents_topic, key, command.encode())
        # A write after the redelivery on the same partition returns only once the redelivery was handled.
        assert http.post(ACTIVITY_PROFILE, params=params_for(ACTIVITY_PROFILE, "later"), json={}).status_code == 204
        assert http.get(ACTIVITY_PROFILE, params=params).json() == {"n": 2}
        assert _rows_of(pipeline, "documents", command.request_id) == 1
        assert _rows_of(pipeline, "document_results", command.request_id) == 1


def test_applied_command_without_result_is_answered_not_reapplied(pipeline: Pipeline) -> None:
    """A crash between the document row and the result row: the redelivery only writes the result."""
    from lrs.core.documents.commands import ALLOW, DocumentCommand, decide
    from lrs.core.documents.keys import etag_of
    from lrs.core.store.clickhouse import ClickHouse
    from streams.documents import DocumentWriter

    tenant, http = pipeline.new_tenant()
    command = DocumentCommand(request_id=str(uuid.uuid4()), tenant=tenant, resource="state", activity_id=ACTIVITY,
                              agent="mbox:mailto:learner@example.com", registration="", doc_id="half", op="put",
                              no_precondition=ALLOW, content_type="text/plain", body=b"applied")
    clickhouse = ClickHouse(pipeline.settings, size=1)
    with _merges_stopped(pipeline):
        try:
            clickhouse.insert("documents_insert", decide(command, [], time.time_ns() // 1000).rows)
            outcome = DocumentWriter(pipeline.settings, clickhouse).apply(command)
        finally:
            clickhouse.close()
        assert (outcome.status, outcome.etag) == (204, etag_of(b"applied"))
        assert _rows_of(pipeline, "documents", command.request_id) == 1
        assert _rows_of(pipeline, "document_results", command.request_id) == 1
    assert http.get(STATE, params=params_for(STATE, "half")).content == b"applied"


def test_old_command_results_are_forgotten(pipeline: Pipeline) -> None:
    """Results only answer replays: older than the keep time they are deleted, newer ones stay."""
    from streams.documents import DocumentWriter

    now_us = int(time.time() * 1_000_000)
    keep_us = int(pipeline.settings.document_results_keep_s * 1_000_000)
    old, fresh = f"old-{uuid.uuid4()}", f"fresh-{uuid.uuid4()}"
    client = pipeline.clickhouse()
    try:
        client.execute("INSERT INTO document_results (request_id, status, etag, message, created_us) VALUES",
                       [(old, 204, "", "", now_us - keep_us - 1_000_000), (fresh, 204, "", "", now_us)])
        DocumentWriter(pipeline.settings).cleanup(now_us)

        def remaining() -> set[str]:
            rows = client.execute("SELECT request_id FROM document_results WHERE request_id IN %(ids)s",
                                  {"ids": (old, fresh)})
            return {r[0] for r in rows}

        wait_until(lambda: remaining() == {fresh}, 30, what="the old result to be deleted")
    finally:
        client.disconnect()
