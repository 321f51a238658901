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
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from lrs.core.kafka.envelope import Envelope, encode
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.util.timeparse import format_timestamp, now_timestamp
from streams.conflicts import fingerprint, forget_old_versions
from streams.sink import Message
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


def _message(tenant: str, body: dict, offset: int, checked: bool = False) -> Message:
    """A statements-topic message as an LRS publishes it (no timestamp sent: the LRS sets it to ``stored``)."""
    stored = now_timestamp()
    st = {**body, "stored": stored, "timestamp": stored, "version": "1.0.0",
          "authority": {"objectType": "Agent", "account": {"homePage": "https://lrs.local", "name": "k"}}}
    return Message(0, offset, encode(Envelope(tenant=tenant, statement=st, client_key="k", checked=checked)))


@pytest.mark.parametrize("checked", [False, True])
def test_the_sink_keeps_the_first_stored_across_batches_and_redeliveries(pipeline: Pipeline, checked: bool) -> None:
    """Batches written one after the other (as by two sink workers in turn): the stored one always wins.

    Checked by the LRS (which could not see the first yet), the later ones are judged on the recent versions."""
    tenant, http = pipeline.new_tenant()
    sid = str(uuid.uuid4())
    body = {**statement(actor="a@example.com"), "id": sid}
    first = _message(tenant, body, 1)
    # Another learner's statement (another partition in production) under the same id.
    other = _message(tenant, {**statement(actor="b@example.com", verb="http://adlnet.gov/expapi/verbs/failed"),
                              "id": sid}, 2, checked)
    time.sleep(0.002)
    resent = _message(tenant, body, 3, checked)  # the same statement accepted again by another process
    assert resent.value != first.value
    sink = pipeline.synthetic_sink()
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
        for table in ("statements", "statements_by_stored_month", "statements_by_time"):
            rows = client.execute(f"SELECT count() FROM {table} WHERE tenant = %(t)s", {"t": tenant})[0][0]
            assert rows >= 1, table
        assert client.execute("SELECT count() FROM statement_id_keys WHERE key = cityHash64(%(t)s, %(id)s)",
                              {"t": tenant, "id": sid})[0][0] >= 1
        assert client.execute("SELECT count() FROM statements_by_time WHERE tenant = %(t)s AND has(related_agents, "
                              "'mbox:mailto:b@example.com')", {"t": tenant})[0][0] == 0
    finally:
        client.disconnect()


def _message_stored(tenant: str, body: dict, offset: int, stored: str, checked: bool = False) -> Message:
    """A statements-topic message with an explicit ``stored`` (the LRS process's clock when it accepted it)."""
    st = {**body, "stored": stored, "timestamp": stored, "version": "1.0.0",
          "authority": {"objectType": "Agent", "account": {"homePage": "https://lrs.local", "name": "k"}}}
    return Message(offset % 2, offset, encode(Envelope(tenant=tenant, statement=st, client_key="k", checked=checked)))


def _scalar(pipeline: Pipeline, sql: str, params: dict) -> object:
    client = pipeline.clickhouse()
    try:
        rows = client.execute(sql, params)
        return rows[0][0] if rows else None
    finally:
        client.disconnect()


@pytest.mark.parametrize(("last_insert", "stored"), [("winner", "recent"), ("loser", "recent"), ("loser", "old")])
def test_two_sinks_insert_one_new_id_at_once_and_the_earliest_stored_wins(pipeline: Pipeline, last_insert: str,
                                                                          stored: str) -> None:
    """Two learners' different statements under one new id, in two partitions: both sinks check (nothing stored
    yet) before either inserts. The earliest stored wins everywhere, whichever sink inserts last.

    Stored just now and checked by the LRS, the sinks read the recent versions; stored long ago (a backlog older
    than the recent versions keep), the whole history (streams/conflicts.py)."""
    tenant, http = pipeline.new_tenant()
    sid = str(uuid.uuid4())
    course = f"https://example.com/courses/{uuid.uuid4().hex[:8]}"
    context = {"contextActivities": {"grouping": [{"id": course}]}}
    winner_body = {**statement(actor="w@example.com", verb="http://adlnet.gov/expapi/verbs/passed",
                               context=context), "id": sid}
    loser_body = {**statement(actor="l@example.com", verb="http://adlnet.gov/expapi/verbs/failed",
                              context=context), "id": sid}
    base = datetime.now(UTC) - timedelta(seconds=1) if stored == "recent" else datetime(2026, 1, 5, 10, tzinfo=UTC)
    winner_stored = format_timestamp(base + timedelta(milliseconds=100))
    winner = _message_stored(tenant, winner_body, 1, winner_stored, checked=stored == "recent")
    loser = _message_stored(tenant, loser_body, 2, format_timestamp(base + timedelta(milliseconds=200)),
                            checked=stored == "recent")
    loser_ifi = "mbox:mailto:l@example.com"
    with http:
        first_sink, last_sink = pipeline.synthetic_sink(), pipeline.synthetic_sink()
        first_msg, last_msg = (loser, winner) if last_insert == "winner" else (winner, loser)
        lookup = ClickHouse(pipeline.settings, size=1)
        seen: list[list] = []
        admit = last_sink.conflicts.admit

        def admit_then_let_the_other_sink_write(rows: list[list], checked: set) -> list[list]:
            # The last sink's check runs first; the other sink checks and writes before this one inserts.
            seen.append(lookup.run_in_chunks("stored_statements_for_ids", {"tenant": tenant, "ids": [sid]}))
            assert bool(checked) == (stored == "recent")
            admitted = admit(rows, checked)
            seen.append(lookup.run_in_chunks("stored_statements_for_ids", {"tenant": tenant, "ids": [sid]}))
            assert first_sink.write_batch([first_msg]).written == 1
            return admitted

        settle = last_sink.conflicts.settle
        versions_sql = ("SELECT uniqExact(stored_us, statement) FROM statements "
                        "WHERE tenant = %(t)s AND statement_id = %(id)s")

        def merge_then_settle() -> None:
            # A merge of the raw table between the inserts and the re-check keeps one row of the id (the last
            # inserted, here maybe the loser's): the re-check must see the race all the same.
            wait_until(lambda: _scalar(pipeline, "OPTIMIZE TABLE statements FINAL", {}) is None
                       and _scalar(pipeline, versions_sql, {"t": tenant, "id": sid}) == 1, 30,
                       what="the raw table's two versions merged into one")
            settle()

        last_sink.conflicts.admit = admit_then_let_the_other_sink_write  # type: ignore[method-assign]
        last_sink.conflicts.settle = merge_then_settle  # type: ignore[method-assign]
        assert last_sink.write_batch([last_msg]).written == 1
        assert seen == [[], []], "both sinks' checks must have seen nothing stored under the id"

        # Reads: the earliest stored, through the API, at once and after the loser's removal.
        assert _get(http, sid)["actor"]["mbox"] == "mailto:w@example.com"
        # The loser's learner sends another statement of the course: their analytics are computed again.
        other = statement(actor="l@example.com", context=context)
        assert http.post("/xapi/statements", json=other).status_code == 200
        wait_until(lambda: _scalar(pipeline, versions_sql, {"t": tenant, "id": sid}) == 1, 60,
                   what="the loser's row removed from the raw table")
        kept = _get(http, sid)
        assert kept["actor"]["mbox"] == "mailto:w@example.com"
        assert kept["stored"] == winner_stored
        # Every table's delete is a mutation of its own: each is applied in its own time.
        for table in ("statements_by_time", "statements_by_learner", "learner_statements"):
            wait_until(lambda t=table: _scalar(pipeline, f"SELECT count() FROM {t} WHERE tenant = %(t)s AND "
                                                         "statement_id = %(id)s AND actor_ifi = %(a)s",
                                               {"t": tenant, "id": sid, "a": loser_ifi}) == 0,
                       30, what=f"the loser's row removed from {table}")
        for table in ("statements_by_stored_month", "statement_json_by_month", "statement_keys_by_month"):
            wait_until(lambda t=table: _scalar(pipeline, f"SELECT uniqExact(stored_us) FROM {t} WHERE tenant = %(t)s "
                                                         "AND statement_id = %(id)s", {"t": tenant, "id": sid}) == 1,
                       30, what=f"one stored time under the id in {table}")
        # Paged reads by the loser's learner do not show the id.
        paged = http.get("/xapi/statements", params={"agent": orjson.dumps(loser_body["actor"]).decode()})
        assert sid not in [s["id"] for s in paged.json()["statements"]]

    # The loser is recorded as a conflict, once.
    recorded = wait_until(lambda: _conflicts(pipeline, tenant, sid), 30, what="the conflict recorded")
    assert [orjson.loads(r[4])["actor"]["mbox"] for r in recorded] == ["mailto:l@example.com"]

    # The loser's learner's analytics count their other statement only.
    learner_sql = ("SELECT statements FROM learner_course WHERE tenant = %(t)s AND course_id = %(c)s "
                   "AND actor_ifi = %(a)s")
    wait_until(lambda: _scalar(pipeline, learner_sql, {"t": tenant, "c": course, "a": loser_ifi}) == 1, 90,
               what="the loser's learner's analytics without the lost statement")


def test_the_recent_versions_forget_slots_older_than_they_keep(pipeline: Pipeline) -> None:
    """What the sink's checks read holds the last hours; older 10-minute slots are dropped whole."""
    tenant = f"recent-{uuid.uuid4().hex[:8]}"
    now = int(time.time())
    keep = int(pipeline.settings.recent_versions_keep_s)
    client = pipeline.clickhouse()
    try:
        client.execute("INSERT INTO statement_versions_recent (tenant, statement_id, stored_us, statement_hash, "
                       "inserted) VALUES", [[tenant, "old", 1, 1, datetime.fromtimestamp(now - keep - 1200, UTC)],
                                            [tenant, "new", 2, 2, datetime.fromtimestamp(now - 60, UTC)]])
        assert forget_old_versions(ClickHouse(pipeline.settings, size=1), pipeline.settings) >= 1
        left = client.execute("SELECT statement_id FROM statement_versions_recent WHERE tenant = %(t)s",
                              {"t": tenant})
        assert left == [("new",)]
    finally:
        client.disconnect()
