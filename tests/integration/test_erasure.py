"""GDPR erasure: ``lrs erase`` removes a learner from the raw table, documents, attachments and analytics, nothing
else; it runs asynchronously, never holds up ingest, and retries what fails (``lrs erase --status``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import uuid

import orjson

from lrs.core.kafka.envelope import Envelope, encode, message_key
from lrs.core.store.clickhouse import ClickHouse
from lrs.core.util.timeparse import format_timestamp
from lrs.core.xapi import actor_ifi
from lrs.service.publisher import Publisher
from lrs.tools.erasure import request_erasure, wait_applied
from streams.sink import Message
from tests.support import ROOT, Pipeline, analytics_differences, statement, wait_until

COURSE = "https://brand.example.com/courses/privacy"
ERASED = "erase.me@example.com"
KEPT = "keep.me@example.com"


def _in_course(actor: str, verb: str = "experienced", **extra) -> dict:
    body = statement(actor=actor, verb=f"http://adlnet.gov/expapi/verbs/{verb}",
                     activity=f"{COURSE}/module-1", **extra)
    body["object"]["definition"] = {"type": "http://adlnet.gov/expapi/activities/module"}
    body["context"] = {**body.get("context", {}), "contextActivities": {"grouping": [
        {"id": COURSE, "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}]}}
    return body


def _learners(pipeline: Pipeline, tenant: str) -> set[str]:
    client = pipeline.clickhouse()
    try:
        rows = client.execute("SELECT actor_ifi FROM learner_course WHERE tenant = %(t)s AND course_id = %(c)s",
                              {"t": tenant, "c": COURSE})
        return {r[0] for r in rows}
    finally:
        client.disconnect()


def _erase(pipeline: Pipeline, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrs", "erase", *args], env=pipeline.env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


def _status(pipeline: Pipeline, tenant: str) -> list[dict]:
    done = _erase(pipeline, "--status", "--tenant", tenant, "--json", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return orjson.loads(done.stdout)


def _with_attachment(actor: str, payload: bytes) -> tuple[dict, bytes, str]:
    """A statement of ``actor`` in the course with one attachment: (statement, multipart body, boundary)."""
    sha2 = hashlib.sha256(payload).hexdigest()
    sent = _in_course(actor, attachments=[{
        "usageType": "http://id.tincanapi.com/attachment/supporting_media", "display": {"en-US": "note"},
        "contentType": "text/plain", "length": len(payload), "sha2": sha2}])
    boundary = "erasure-boundary"
    body = (f"--{boundary}\r\nContent-Type: application/json\r\n\r\n{json.dumps(sent)}\r\n"
            f"--{boundary}\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {sha2}\r\n\r\n").encode() + payload + f"\r\n--{boundary}--\r\n".encode()
    return sent, body, boundary


def _scalar(pipeline: Pipeline, sql: str, params: dict) -> int:
    client = pipeline.clickhouse()
    try:
        return int(client.execute(sql, params)[0][0])
    finally:
        client.disconnect()


def test_erase_removes_the_learner_everywhere_and_keeps_the_others(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    erased_agent = {"objectType": "Agent", "mbox": f"mailto:{ERASED}"}
    kept_only = _in_course(KEPT)
    mentions_erased = _in_course(KEPT, context={"instructor": erased_agent})
    batch = [_in_course(ERASED), _in_course(ERASED, "completed"), kept_only, mentions_erased]
    assert http.post("/xapi/statements", json=batch).status_code == 200
    # Attachments: one only the erased learner's statement uses (erased), one another learner's also uses (kept).
    private, private_body, boundary = _with_attachment(ERASED, b"private note of the erased learner")
    shared_payload = b"course handout"
    shared_erased, shared_body, _ = _with_attachment(ERASED, shared_payload)
    shared_kept, shared_kept_body, _ = _with_attachment(KEPT, shared_payload)
    for body in (private_body, shared_body, shared_kept_body):
        assert http.post("/xapi/statements", content=body,
                         headers={"Content-Type": f"multipart/mixed; boundary={boundary}"}).status_code == 200
    state = {"activityId": COURSE, "agent": json.dumps(erased_agent), "stateId": "bookmark"}
    assert http.put("/xapi/activities/state", params=state, json={"page": 3}).status_code == 204
    kept_state = {**state, "agent": json.dumps({"mbox": f"mailto:{KEPT}"})}
    assert http.put("/xapi/activities/state", params=kept_state, json={"page": 1}).status_code == 204
    wait_until(lambda: _learners(pipeline, tenant) == {f"mbox:mailto:{ERASED}", f"mbox:mailto:{KEPT}"}, 60,
               what="both learners in the analytics")

    done = _erase(pipeline, "--tenant", tenant, "--agent", json.dumps(erased_agent), "--wait", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "erased" in done.stdout and "5 statement(s), 1 document(s)" in done.stdout, done.stdout
    (request,) = _status(pipeline, tenant)
    assert request["state"] == "done" and request["attempts"] == 1 and request["attachments"] == 1, request

    ifi = f"mbox:mailto:{ERASED}"
    # Every table with a learner column (found the eraser's way): no row of any version names the learner.
    client = pipeline.clickhouse()
    try:
        tables = dict(client.execute("SELECT table, groupArray(name) FROM system.columns WHERE database = "
                                     "currentDatabase() AND name IN ('related_agents', 'actor_ifi', 'agent') "
                                     "GROUP BY table"))
    finally:
        client.disconnect()
    assert {"statements", "statements_by_stored_month", "statements_by_time", "statement_conflicts", "documents",
            "learner_course_rows"} <= set(tables)
    for table, columns in tables.items():
        where = ("has(related_agents, %(i)s)" if "related_agents" in columns
                 else "actor_ifi = %(i)s" if "actor_ifi" in columns else "agent = %(i)s")
        assert _scalar(pipeline, f"SELECT count() FROM {table} WHERE tenant = %(t)s AND {where}",
                       {"t": tenant, "i": ifi}) == 0, table
    ids = [s["id"] for s in http.get("/xapi/statements").json()["statements"]]
    assert sorted(ids) == sorted([kept_only["id"], shared_kept["id"]])
    assert http.get("/xapi/statements", params={"agent": json.dumps(erased_agent)}).json()["statements"] == []
    # Attachments: the one only the learner used is gone, the shared one stays (and is served with the kept one).
    sha = {p: hashlib.sha256(p).hexdigest() for p in (b"private note of the erased learner", shared_payload)}
    for payload, kept in ((b"private note of the erased learner", False), (shared_payload, True)):
        rows = _scalar(pipeline, "SELECT count() FROM attachments WHERE tenant = %(t)s AND sha2 = %(h)s",
                       {"t": tenant, "h": sha[payload]})  # every version, merged or not
        assert bool(rows) == kept, (payload, rows)
    got = http.get("/xapi/statements", params={"statementId": shared_kept["id"], "attachments": "true"})
    assert got.status_code == 200 and shared_payload in got.content
    assert private["id"] not in ids and shared_erased["id"] not in ids
    # Documents: the learner's state is gone, the other learner's stays.
    assert http.get("/xapi/activities/state", params=state).status_code == 404
    assert http.get("/xapi/activities/state", params=kept_state).json() == {"page": 1}
    # Analytics: no version of the per-learner table holds them; the views are recomputed without them.
    assert _learners(pipeline, tenant) == {f"mbox:mailto:{KEPT}"}
    # Aggregates are recomputed from what remains: two statements (the other one named the erased learner).
    wait_until(lambda: _scalar(pipeline, "SELECT sum(statements) FROM engagement_daily WHERE tenant = %(t)s",
                               {"t": tenant}) == 2, 60, what="aggregates recomputed without the learner")
    # The logs keep hashes, never the identifier itself (no older request row keeps it either).
    client = pipeline.clickhouse()
    try:
        logged = client.execute("SELECT ifi_sha256 FROM erasures WHERE tenant = %(t)s", {"t": tenant})
        requests = client.execute("SELECT ifis, ifi_sha256 FROM erasure_requests WHERE tenant = %(t)s",
                                  {"t": tenant})
    finally:
        client.disconnect()
    hashes = sorted([hashlib.sha256(ifi.encode()).hexdigest(), hashlib.sha256(
        f"mbox_sha1sum:{hashlib.sha1(f'mailto:{ERASED}'.encode()).hexdigest()}".encode()).hexdigest()])
    assert logged == [(hashes,)]
    assert requests == [([], hashes)]
    assert ERASED not in str(logged) + str(requests)


def test_an_erasure_that_empties_a_cohort_takes_its_rows_out_of_the_analytics(pipeline: Pipeline) -> None:
    """The erased learner alone started the course two weeks after the other. After the erasure the course is
    loaded again and written whole: the emptied cohort's rows and the weeks the clock no longer reaches (it moves
    back to the other learner's last statement) are marked gone, and every table equals its batch query."""
    tenant, http = pipeline.new_tenant()
    monday = dt.datetime(2026, 9, 7, 10, tzinfo=dt.UTC)

    def on(day: int) -> str:
        return format_timestamp(monday + dt.timedelta(days=day))

    batch = [_in_course(KEPT, timestamp=on(0)), _in_course(KEPT, timestamp=on(1)),
             _in_course(ERASED, timestamp=on(15)), _in_course(ERASED, timestamp=on(16))]
    with http:
        assert http.post("/xapi/statements", json=batch).status_code == 200
    rows = "SELECT count() FROM cohort_retention WHERE tenant = %(t)s"
    # The first cohort's weeks 0-2 (up to the clock's week) and the second cohort's week 0.
    wait_until(lambda: _scalar(pipeline, rows, {"t": tenant}) == 4 and analytics_differences(pipeline, tenant) == [],
               90, interval=1, what="the two cohorts in the analytics")
    agent = json.dumps({"objectType": "Agent", "mbox": f"mailto:{ERASED}"})
    done = _erase(pipeline, "--tenant", tenant, "--agent", agent, "--wait", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    wait_until(lambda: _scalar(pipeline, rows, {"t": tenant}) == 1 and analytics_differences(pipeline, tenant) == [],
               90, interval=1, what="the emptied cohort and the weeks past the clock gone")


def test_erasure_never_holds_up_ingest_and_retries_until_it_can_finish(pipeline: Pipeline) -> None:
    """A table with learner data whose mutations cannot finish: the erasure fails, is retried with back-off and
    shown as failed, while statements keep flowing; once the table is fixed, the next attempt finishes it."""
    tenant, http = pipeline.new_tenant()
    stuck = f"zz_erasure_stuck_{tenant}"
    ifi = f"mbox:mailto:{ERASED}"
    client = pipeline.clickhouse()
    try:
        # A mutation that throws on every part it touches stays unfinished (18.16 has no KILL MUTATION), and
        # every later mutation of the same parts waits behind it: our erasure's delete on this table cannot finish.
        client.execute(f"CREATE TABLE {stuck} (tenant String, related_agents Array(String), poison UInt8) "
                       "ENGINE = MergeTree() ORDER BY tenant")
        client.execute(f"INSERT INTO {stuck} (tenant, related_agents, poison) VALUES", [[tenant, [ifi], 1]])
        client.execute(f"ALTER TABLE {stuck} DELETE WHERE throwIf(poison = 1) = 1")
        assert http.post("/xapi/statements", json=[_in_course(ERASED), _in_course(KEPT)]).status_code == 200
        wait_until(lambda: pipeline.stored_count(tenant) == 2, 60, what="the statements stored")
        agent = json.dumps({"mbox": f"mailto:{ERASED}"})
        timed_out = _erase(pipeline, "--tenant", tenant, "--agent", agent, "--wait", "3")
        assert timed_out.returncode == 12, timed_out.stdout + timed_out.stderr  # ExitCode.TIMEOUT
        # Ingest goes on meanwhile: a statement sent now is stored and read back at once (read-your-writes).
        for _ in range(3):
            sent = _in_course(KEPT)
            assert http.post("/xapi/statements", json=sent).status_code == 200
            assert http.get("/xapi/statements", params={"statementId": sent["id"]}).status_code == 200
        failed = wait_until(lambda: [r for r in _status(pipeline, tenant) if r["state"] == "failed"
                                     and r["attempts"] >= 2], 90, interval=1, what="two failed attempts")
        assert "unfinished" in failed[0]["error"] and failed[0]["next_try"], failed
        client.execute(f"DROP TABLE {stuck}")  # fixed: the next attempt has no stuck table to wait for
        wait_until(lambda: _status(pipeline, tenant)[0]["state"] == "done", 90, interval=1, what="the erasure done")
        ids = {s["id"] for s in http.get("/xapi/statements", params={"limit": 0}).json()["statements"]}
        assert len(ids) == 4  # the kept learner's four statements; the erased learner's one is gone
        assert http.get("/xapi/statements", params={"agent": agent}).json()["statements"] == []
    finally:
        client.execute(f"DROP TABLE IF EXISTS {stuck}")
        client.disconnect()


def test_what_an_erasure_covers_stays_out_when_it_arrives_after_it(pipeline: Pipeline) -> None:
    """A message that precedes an erasure can reach the sink after the erasure was applied: redelivered after a
    rebalance or a crash (its offset was not committed yet), or published by the LRS after the erasure message.
    The sink keeps out every statement naming the learner stored before the request, and writes what is stored
    after it (tests/integration/test_analytics.py met the redelivery under a worker kill)."""
    tenant, http = pipeline.new_tenant()
    agent = {"objectType": "Agent", "mbox": f"mailto:{ERASED}"}
    sent, other = _in_course(ERASED), _in_course(KEPT, context={"instructor": agent})
    with http:
        assert http.post("/xapi/statements", json=[sent, other]).status_code == 200
        # As stored and published by the LRS (stored, authority, version added).
        stored = [http.get("/xapi/statements", params={"statementId": s["id"]}).json() for s in (sent, other)]
    settings = pipeline.settings
    publisher = Publisher(settings)
    try:
        erasure = request_erasure(settings, publisher, tenant, agent)
        assert wait_applied(ClickHouse(settings, size=1), erasure, 120) is not None
        requested = dt.datetime.fromtimestamp(erasure.requested_us / 1e6, tz=dt.UTC)
        before = {**stored[0], "id": str(uuid.uuid4()), "stored": format_timestamp(requested - dt.timedelta(seconds=1))}
        after = {**stored[0], "id": str(uuid.uuid4()), "stored": format_timestamp(requested + dt.timedelta(seconds=1))}
        # The learner's statement and the other learner's one naming them delivered again, one stored just before
        # the request and published late, then one stored after it; all in the learner's partition, in this order.
        key = message_key(tenant, actor_ifi(agent))
        for statement in (*stored, before, after):
            publisher.send(settings.statements_topic, key, encode(Envelope(tenant, statement)))
    finally:
        publisher.close()
    ifi = f"mbox:mailto:{ERASED}"
    count = "SELECT count() FROM statements WHERE tenant = %(t)s AND statement_id = %(i)s"
    # The last one written means the sink has handled the three before it.
    wait_until(lambda: _scalar(pipeline, count, {"t": tenant, "i": after["id"]}) == 1, 60, what="the later statement")
    assert _scalar(pipeline, "SELECT count() FROM statements WHERE tenant = %(t)s AND has(related_agents, %(i)s)",
                   {"t": tenant, "i": ifi}) == 1
    for table in ("learner_statements", "statements_by_time"):  # nor in what is derived from the raw table
        assert _scalar(pipeline, f"SELECT count() FROM {table} WHERE tenant = %(t)s AND statement_id != %(a)s "
                                 "AND has(related_agents, %(i)s)", {"t": tenant, "a": after["id"], "i": ifi}) == 0


def test_a_row_written_after_an_erasure_ran_from_a_fence_read_before_it_is_erased(pipeline: Pipeline) -> None:
    """Two sinks: one reads the fence, the other records an erasure and the eraser applies it, then the first
    inserts a statement the erasure covers (stored before the request). Reading the fence again after its insert,
    the first sink has the request applied once more, so the statement does not outlive the erasure."""
    tenant, http = pipeline.new_tenant()
    agent = {"objectType": "Agent", "mbox": f"mailto:{ERASED}"}
    sent = _in_course(ERASED)
    with http:
        assert http.post("/xapi/statements", json=[sent]).status_code == 200
        stored = http.get("/xapi/statements", params={"statementId": sent["id"]}).json()
    late = {**stored, "id": str(uuid.uuid4())}  # stored as the first one was: before the request below
    settings = pipeline.settings
    sink = pipeline.synthetic_sink()
    read_fence = sink.fence.refresh
    erasures: list = []

    def read_then_erase() -> None:
        read_fence()
        if not erasures:  # the read before the insert: the request is recorded and applied right after it
            publisher = Publisher(settings)
            try:
                erasures.append(request_erasure(settings, publisher, tenant, agent))
            finally:
                publisher.close()
            assert wait_applied(ClickHouse(settings, size=1), erasures[0], 120) is not None

    count = "SELECT count() FROM statements WHERE tenant = %(t)s AND statement_id = %(i)s"
    reopen = sink.eraser.reopen
    reopened: list = []

    def reopen_seen(tenant_: str, request_id: str, ifis: list[str]) -> None:
        # The race hit: the statement is in the table after the erasure's deletes ran and the request was done.
        state = ClickHouse(settings, size=1).run("erasure_request", {"tenant": tenant_, "request_id": request_id})
        reopened.append((request_id, ifis, _scalar(pipeline, count, {"t": tenant, "i": late["id"]}), state[0][5]))
        reopen(tenant_, request_id, ifis)

    sink.fence.refresh = read_then_erase  # type: ignore[method-assign]
    sink.eraser.reopen = reopen_seen  # type: ignore[method-assign]
    sink.write_batch([Message(0, 1, encode(Envelope(tenant, late)))])
    assert reopened == [(erasures[0].request_id, [f"mbox:mailto:{ERASED}"], 1, "done")]
    assert _scalar(pipeline, count, {"t": tenant, "i": sent["id"]}) == 0
    # Each table's delete is its own mutation, finishing in its own time: every one of them, not just the first.
    wait_until(lambda: all(_scalar(pipeline, f"SELECT count() FROM {table} WHERE tenant = %(t)s AND statement_id = "
                                             "%(i)s", {"t": tenant, "i": late["id"]}) == 0
                           for table in ("statements", "learner_statements", "statements_by_time")),
               120, what="the late statement erased from the raw table and what is derived from it")


def test_erase_rejects_what_is_not_an_agent(pipeline: Pipeline) -> None:
    tenant, _ = pipeline.new_tenant()
    for agent in ('{"name": "no identifier"}', "not json", '{"objectType": "Group", "member": []}'):
        done = subprocess.run([sys.executable, "-m", "lrs", "erase", "--tenant", tenant, "--agent", agent,
                               "--wait", "0"], env=pipeline.env, cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 6, (agent, done.stdout, done.stderr)  # ExitCode.BAD_INPUT
        assert done.stderr.startswith("lrs: error: agent") and "Traceback" not in done.stderr, done.stderr
