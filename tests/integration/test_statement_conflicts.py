"""Statements are immutable: the first statement stored under an id wins at the sink; a later one is recorded.

Two LRS processes each check ids against ClickHouse, so both can accept different statements with one id while
neither is stored yet. The sink keeps the first and records the other (statement_conflicts and a metric).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import orjson
import pytest

from lrs.core.kafka.envelope import Envelope, encode
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.util.timeparse import now_timestamp
from streams.conflicts import fingerprint
from streams.sink import Message, StatementSink
from tests.support import ManagedProcess, Pipeline, free_ports, statement, wait_until

pytestmark = pytest.mark.integration


@contextmanager
def _second_lrs(pipeline: Pipeline, http: httpx.Client) -> Iterator[httpx.Client]:
    """Another ``lrs serve`` on the pipeline, with ``http``'s credentials."""
    (port,) = free_ports(1)
    env = {**pipeline.env, "LRS_HTTP_PORT": str(port)}
    second = ManagedProcess("lrs-conflicts", ["serve"], env,
                            pipeline.lrs.log_path.with_name("lrs-conflicts.log")).start()
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).status_code == 200, 30,
                   what=f"the second LRS\n{second.log_tail()}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=http.auth, headers=http.headers,
                          timeout=30) as other:
            yield other
    finally:
        second.stop()


@contextmanager
def _sink_paused(pipeline: Pipeline) -> Iterator[None]:
    """The worker stopped (SIGSTOP) for a moment, shorter than its Kafka session: nothing reaches ClickHouse."""
    pid = pipeline.workers[0].proc.pid
    os.killpg(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(pid, signal.SIGCONT)


def _conflicts(pipeline: Pipeline, tenant: str, sid: str) -> list[tuple]:
    return ClickHouse(pipeline.settings, size=1).run("statement_conflicts", {"tenant": tenant, "statement_id": sid})


def _get(http: httpx.Client, sid: str) -> dict | None:
    response = http.get("/xapi/statements", params={"statementId": sid})
    return response.json() if response.status_code == 200 else None


def test_two_lrs_processes_accept_one_id_and_the_first_stored_is_kept(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    sid = str(uuid.uuid4())
    first = {**statement(actor="racer@example.com", verb="http://adlnet.gov/expapi/verbs/passed"), "id": sid}
    later = {**statement(actor="racer@example.com", verb="http://adlnet.gov/expapi/verbs/failed"), "id": sid}
    with _second_lrs(pipeline, http) as other, http:
        with _sink_paused(pipeline):
            # Neither process can see the other's statement: both accept (204), in this order on the partition.
            assert http.put("/xapi/statements", params={"statementId": sid}, json=first).status_code == 204
            assert other.put("/xapi/statements", params={"statementId": sid}, json=later).status_code == 204
            # The same statement again through the second process: a duplicate, not a conflict.
            assert other.put("/xapi/statements", params={"statementId": sid}, json=first).status_code == 204
        for client in (http, other):
            kept = wait_until(lambda c=client: _get(c, sid), 60, what="the statement stored")
            assert kept["verb"]["id"] == first["verb"]["id"], kept
        recorded = wait_until(lambda: _conflicts(pipeline, tenant, sid), 30, what="the conflict recorded")
        assert len(recorded) == 1, recorded
        kept_sha, rejected_sha, _, _, rejected, _ = recorded[0]
        assert orjson.loads(rejected)["verb"]["id"] == later["verb"]["id"]
        assert kept_sha != rejected_sha
        # Forever: merges do not bring the later one back, and both processes now refuse it.
        client = pipeline.clickhouse()
        try:
            client.execute("OPTIMIZE TABLE statements FINAL")
        finally:
            client.disconnect()
        for client in (http, other):
            assert _get(client, sid)["verb"]["id"] == first["verb"]["id"]
            assert client.put("/xapi/statements", params={"statementId": sid}, json=later).status_code == 409
        # Paged reads see it once, with the first statement's verb.
        paged = http.get("/xapi/statements", params={"agent": orjson.dumps(first["actor"]).decode()})
        assert paged.status_code == 200, paged.text
        assert [(s["id"], s["verb"]["id"]) for s in paged.json()["statements"]] == [(sid, first["verb"]["id"])]


def _message(tenant: str, body: dict, offset: int) -> Message:
    """A statements-topic message as an LRS publishes it (no timestamp sent: the LRS sets it to ``stored``)."""
    stored = now_timestamp()
    st = {**body, "stored": stored, "timestamp": stored, "version": "1.0.0",
          "authority": {"objectType": "Agent", "account": {"homePage": "https://lrs.local", "name": "k"}}}
    return Message(0, offset, encode(Envelope(tenant=tenant, statement=st, client_key="k")))


def test_the_sink_keeps_the_first_stored_across_batches_and_redeliveries(pipeline: Pipeline) -> None:
    """Batches written one after the other (as by two sink workers in turn): the stored one always wins."""
    tenant, http = pipeline.new_tenant()
    sid = str(uuid.uuid4())
    body = {**statement(actor="a@example.com"), "id": sid}
    first = _message(tenant, body, 1)
    # Another learner's statement (another partition in production) under the same id.
    other = _message(tenant, {**statement(actor="b@example.com", verb="http://adlnet.gov/expapi/verbs/failed"),
                              "id": sid}, 2)
    time.sleep(0.002)
    resent = _message(tenant, body, 3)  # the same statement accepted again by another process: a later "stored"
    assert resent.value != first.value
    sink = StatementSink(pipeline.settings)
    assert sink.write_batch([first]).written == 1
    assert sink.write_batch([other]).written == 0  # kept out of every table
    assert sink.write_batch([first]).written == 1  # a redelivery: written again, idempotently
    assert sink.write_batch([resent]).written == 0  # the same statement accepted twice: first copy stays
    with http:
        kept = _get(http, sid)
        assert kept["actor"]["mbox"] == "mailto:a@example.com"
        assert kept["stored"] == orjson.loads(first.value)["statement"]["stored"]
    recorded = _conflicts(pipeline, tenant, sid)
    assert [r[1] for r in recorded] == [fingerprint(orjson.dumps(orjson.loads(other.value)["statement"]).decode())]
    client = pipeline.clickhouse()
    try:
        for table in ("statements", "statements_by_stored", "statements_by_time", "statement_ids"):
            rows = client.execute(f"SELECT count() FROM {table} WHERE tenant = %(t)s", {"t": tenant})[0][0]
            assert rows >= 1, table
        assert client.execute("SELECT count() FROM statements_by_time WHERE tenant = %(t)s AND has(related_agents, "
                              "'mbox:mailto:b@example.com')", {"t": tenant})[0][0] == 0
    finally:
        client.disconnect()
