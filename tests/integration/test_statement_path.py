"""The statement path end to end on real services: HTTP -> validate -> Kafka -> worker -> ClickHouse -> GET."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.support import Pipeline, statement, wait_until

pytestmark = pytest.mark.integration
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
EPOCH_US_2026_10_01_10H = int(datetime(2026, 10, 1, 10, tzinfo=UTC).timestamp()) * 1_000_000


def test_post_then_get_round_trip(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    sent = statement(result={"success": True, "score": {"scaled": 0.8}})
    response = http.post("/xapi/statements", json=sent)
    assert response.status_code == 200, response.text
    assert response.json() == [sent["id"]]

    got = http.get("/xapi/statements", params={"statementId": sent["id"]})
    assert got.status_code == 200, got.text
    assert got.headers["X-Experience-API-Consistent-Through"].endswith("Z")
    assert got.headers["X-Experience-API-Version"] == "1.0.3"
    body = got.json()
    for prop in ("actor", "verb", "object", "result"):
        assert body[prop] == sent[prop]
    assert body["id"] == sent["id"]
    assert body["stored"] and body["timestamp"] and body["version"] == "1.0.0"
    assert body["authority"]["objectType"] == "Agent"
    assert body["authority"]["account"]["homePage"].endswith(f"/tenants/{tenant}")


def test_batch_without_ids_gets_ids_and_is_readable(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    batch = [{k: v for k, v in statement(actor=f"l{i}@example.com").items() if k != "id"} for i in range(40)]
    response = http.post("/xapi/statements", json=batch)
    assert response.status_code == 200, response.text
    ids = response.json()
    assert len(ids) == 40 and len(set(ids)) == 40
    for sid in ids[:5] + ids[-5:]:
        assert http.get("/xapi/statements", params={"statementId": sid}).status_code == 200
    assert pipeline.stored_count(tenant) == 40


def test_raw_row_columns_are_filled(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    course = {"id": "https://acme.example/courses/c1", "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
    module = {"id": "https://acme.example/courses/c1/m2", "definition": {"type": "http://adlnet.gov/expapi/activities/module"}}
    reg = str(uuid.uuid4())
    sent = statement(activity="https://acme.example/courses/c1/m2/quiz", timestamp="2026-10-01T10:00:00.250Z",
                     result={"completion": True, "duration": "PT1M30S"},
                     context={"registration": reg, "contextActivities": {"parent": [module], "grouping": [course]}})
    assert http.post("/xapi/statements", json=sent).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": sent["id"]}).status_code == 200
    client = pipeline.clickhouse()
    row = client.execute(
        "SELECT actor_ifi, verb_id, object_id, object_type, registration, course_id, module_id, timestamp_us, "
        "result_completion, result_duration_s, voided FROM statements FINAL WHERE tenant = %(t)s", {"t": tenant})
    client.disconnect()
    assert row == [("mbox:mailto:learner@example.com", sent["verb"]["id"], sent["object"]["id"], "Activity", reg,
                    course["id"], module["id"], EPOCH_US_2026_10_01_10H + 250_000, 1, 90.0, 0)]


def test_invalid_batch_stores_nothing(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    bad = statement()
    bad["actor"] = {"objectType": "Agent", "mbox": "not-an-email"}
    response = http.post("/xapi/statements", json=[statement(), bad])
    assert response.status_code == 400
    assert "statements[1]" in response.json()["error"]["message"]
    marker = statement()
    assert http.post("/xapi/statements", json=marker).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": marker["id"]}).status_code == 200
    assert pipeline.stored_count(tenant) == 1


@pytest.mark.parametrize(("body", "headers", "status"), [
    (b"{not json", {}, 400),
    (b"[]", {}, 400),
    (b"{}", {"X-Experience-API-Version": "0.9"}, 400),
])
def test_bad_requests_get_json_errors(pipeline: Pipeline, body: bytes, headers: dict, status: int) -> None:
    _, http = pipeline.new_tenant()
    response = http.post("/xapi/statements", content=body, headers={"Content-Type": "application/json", **headers})
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_version_header_required(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    del http.headers["X-Experience-API-Version"]
    response = http.post("/xapi/statements", json=statement())
    assert response.status_code == 400
    assert "X-Experience-API-Version" in response.json()["error"]["message"]


def test_auth_401_and_403(pipeline: Pipeline) -> None:
    anon = httpx.post(f"{pipeline.base_url}/xapi/statements", json=statement(),
                      headers={"X-Experience-API-Version": "1.0.3"})
    assert anon.status_code == 401 and anon.headers["WWW-Authenticate"].startswith("Basic")
    wrong = httpx.post(f"{pipeline.base_url}/xapi/statements", json=statement(), auth=("nobody", "nothing"),
                       headers={"X-Experience-API-Version": "1.0.3"})
    assert wrong.status_code == 401
    _, reader = pipeline.new_tenant(scopes=("statements/read",))
    forbidden = reader.post("/xapi/statements", json=statement())
    assert forbidden.status_code == 403 and forbidden.json()["error"]["message"]


def test_same_id_same_content_is_no_change_and_different_content_conflicts(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    sent = statement()
    assert http.post("/xapi/statements", json=sent).status_code == 200
    again = http.post("/xapi/statements", json=sent)
    assert again.status_code == 200 and again.json() == [sent["id"]]
    changed = {**sent, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}}
    assert http.post("/xapi/statements", json=changed).status_code == 409
    assert http.put("/xapi/statements", params={"statementId": sent["id"]}, json=changed).status_code == 409
    assert pipeline.stored_count(tenant) == 1


@pytest.mark.parametrize("batch", [2, 100])  # the LRS's id check: keys up to 64 ids (stored_keys), ids beyond
def test_a_stored_id_in_a_batch_is_found_by_the_id_check_of_either_size(pipeline: Pipeline, batch: int) -> None:
    tenant, http = pipeline.new_tenant()
    stored = statement()
    assert http.post("/xapi/statements", json=stored).status_code == 200
    wait_until(lambda: pipeline.stored_count(tenant) == 1, 60, what="the first statement stored")
    others = [statement() for _ in range(batch - 1)]
    changed = {**stored, "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"}}
    conflict = http.post("/xapi/statements", json=[*others, changed])
    assert conflict.status_code == 409 and stored["id"] in conflict.json()["error"]["message"]
    same = http.post("/xapi/statements", json=[*others, stored])
    assert same.status_code == 200 and same.json()[-1] == stored["id"]
    wait_until(lambda: pipeline.stored_count(tenant) >= batch, 60, what="the batch stored")
    assert pipeline.stored_count(tenant) == batch


def test_duplicate_ids_in_one_batch_rejected(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    one = statement()
    response = http.post("/xapi/statements", json=[one, {**one}])
    assert response.status_code == 400 and "duplicate" in response.json()["error"]["message"]


def test_put_stores_under_the_given_id(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    sid = str(uuid.uuid4())
    body = {k: v for k, v in statement().items() if k != "id"}
    assert http.put("/xapi/statements", params={"statementId": sid}, json=body).status_code == 204
    assert http.get("/xapi/statements", params={"statementId": sid}).json()["id"] == sid


def test_voiding_hides_the_statement(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    target = statement()
    assert http.post("/xapi/statements", json=target).status_code == 200
    void = statement(verb=VOIDED)
    void["object"] = {"objectType": "StatementRef", "id": target["id"]}
    assert http.post("/xapi/statements", json=void).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": target["id"]}).status_code == 404
    voided = http.get("/xapi/statements", params={"voidedStatementId": target["id"]})
    assert voided.status_code == 200 and voided.json()["id"] == target["id"]
    # A voiding statement cannot itself be voided.
    again = statement(verb=VOIDED)
    again["object"] = {"objectType": "StatementRef", "id": void["id"]}
    assert http.post("/xapi/statements", json=again).status_code == 400


def test_void_arriving_before_its_target_still_voids(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    target = statement()
    void = statement(verb=VOIDED)
    void["object"] = {"objectType": "StatementRef", "id": target["id"]}
    assert http.post("/xapi/statements", json=void).status_code == 200
    assert http.post("/xapi/statements", json=target).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": target["id"]}).status_code == 404
    assert http.get("/xapi/statements", params={"voidedStatementId": target["id"]}).status_code == 200


def test_tenants_do_not_see_each_other(pipeline: Pipeline) -> None:
    _, alice = pipeline.new_tenant()
    _, bob = pipeline.new_tenant()
    sent = statement()
    assert alice.post("/xapi/statements", json=sent).status_code == 200
    assert alice.get("/xapi/statements", params={"statementId": sent["id"]}).status_code == 200
    assert bob.get("/xapi/statements", params={"statementId": sent["id"]}).status_code == 404


def test_read_your_writes_under_a_burst(pipeline: Pipeline) -> None:
    _, http = pipeline.new_tenant()
    for _ in range(20):
        sent = statement()
        assert http.post("/xapi/statements", json=sent).status_code == 200
        got = http.get("/xapi/statements", params={"statementId": sent["id"]})
        assert got.status_code == 200, "a GET right after a POST must see it"


def test_read_your_writes_across_lrs_processes(pipeline: Pipeline) -> None:
    """A POST to one LRS process and a GET from another, at once: the second waits for the first's write."""
    from tests.support import ManagedProcess, free_ports, wait_until

    (port,) = free_ports(1)
    env = {**pipeline.env, "LRS_HTTP_PORT": str(port)}
    second = ManagedProcess("lrs-second", ["serve"], env, pipeline.lrs.log_path.with_name("lrs-second.log")).start()
    try:
        wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/xapi/about", timeout=1).status_code == 200, 30,
                   what="the second LRS")
        _, http = pipeline.new_tenant()
        reader = httpx.Client(base_url=f"http://127.0.0.1:{port}", auth=http.auth, headers=http.headers, timeout=30)
        for _ in range(20):
            sent = statement()
            assert http.post("/xapi/statements", json=sent).status_code == 200
            got = reader.get("/xapi/statements", params={"statementId": sent["id"]})
            assert got.status_code == 200, "a GET on another process right after a POST must see it"
    finally:
        second.stop()


def test_response_version_without_request_header(pipeline: Pipeline) -> None:
    """Without a version header the LRS answers 400 and names its configured default version."""
    _, http = pipeline.new_tenant()
    del http.headers["X-Experience-API-Version"]
    response = http.get("/xapi/statements", params={"statementId": str(uuid.uuid4())})
    assert response.status_code == 400
    assert response.headers["X-Experience-API-Version"] == pipeline.settings.xapi_default_version


def test_query_pages_list_each_statement_once_without_the_voided(pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    sent = [statement(actor=f"page{i}@example.com") for i in range(5)]
    void = statement(verb=VOIDED)
    void["object"] = {"objectType": "StatementRef", "id": sent[0]["id"]}
    assert http.post("/xapi/statements", json=sent).status_code == 200
    assert http.post("/xapi/statements", json=void).status_code == 200
    expected = {s["id"] for s in sent[1:]} | {void["id"]}
    client = pipeline.clickhouse()
    try:
        # Redelivery writes rows again; until a merge, the stored-time table holds each statement twice.
        client.execute("SYSTEM STOP MERGES statements_by_stored_month")
        client.execute("INSERT INTO statements SELECT * FROM statements WHERE tenant = %(t)s", {"t": tenant})
        assert client.execute("SELECT count() FROM statements_by_stored_month WHERE tenant = %(t)s",
                              {"t": tenant})[0][0] >= 2 * len(expected)
        listed = [s["id"] for s in http.get("/xapi/statements").json()["statements"]]
        assert sorted(listed) == sorted(expected)  # once each, newest first, the voided one left out
        paged, path = [], "/xapi/statements?limit=2&ascending=true"
        while path:
            body = http.get(path).json()
            paged += [s["id"] for s in body["statements"]]
            path = body["more"]
        assert sorted(paged) == sorted(expected) and len(paged) == len(expected)
    finally:
        client.execute("SYSTEM START MERGES statements_by_stored_month")
        client.disconnect()


def test_sink_writes_a_batch_of_more_ids_than_one_query_can_name(pipeline: Pipeline) -> None:
    # A sink batch of grouped messages can hold many thousands of statements: every id list it sends to
    # ClickHouse (voids for its ids, targets to mark voided, courses of targets) must fit max_query_size.
    import orjson

    from lrs.core.kafka.envelope import encode_statements
    from streams.refresh import SliceRefresher
    from streams.sink import Message

    tenant, _ = pipeline.new_tenant()
    course = "https://example.com/courses/big"
    context = {"contextActivities": {"grouping": [{"id": course, "definition": {
        "type": "http://adlnet.gov/expapi/activities/course"}}]}}
    stored = {"stored": "2026-11-28T10:00:00.000Z", "timestamp": "2026-11-28T10:00:00.000Z"}
    targets = [statement(actor=f"big{i}@example.com", context=context, **stored) for i in range(8000)]
    voids = []
    for target in targets[:2500]:
        void = statement(verb=VOIDED, **stored)
        void["object"] = {"objectType": "StatementRef", "id": target["id"]}
        voids.append(void)
    everything = [orjson.dumps(s) for s in targets + voids]
    messages = [Message(0, offset, encode_statements(tenant, "k", everything[i:i + 500]))
                for offset, i in enumerate(range(0, len(everything), 500))]
    sink = pipeline.synthetic_sink()
    result = sink.write_batch(messages)
    assert result.written == len(everything) and not result.dead
    client = pipeline.clickhouse()
    try:
        counts = client.execute("SELECT count(), sum(voided) FROM statements FINAL WHERE tenant = %(t)s", {"t": tenant})
    finally:
        client.disconnect()
    assert counts == [(len(everything), 2500)]
    assert SliceRefresher(pipeline.settings).dirty_slices(result.touched) == {(tenant, course)}


def test_a_batch_decoded_before_the_one_ahead_of_it_was_written_is_judged_against_that_one(
        pipeline: Pipeline) -> None:
    # The worker decodes the next batch while ClickHouse writes this one (streams/app.py): decoding must not judge
    # anything, so a void and a different statement under a taken id, decoded before their target was written, are
    # judged against it when written; and writing the decoded batch again (a retry) changes nothing.
    import orjson

    from lrs.core.kafka.envelope import encode_statements
    from lrs.core.store.clickhouse import ClickHouse
    from streams.sink import Message

    tenant, _ = pipeline.new_tenant()
    stored = {"stored": "2026-11-28T10:00:00.000Z", "timestamp": "2026-11-28T10:00:00.000Z"}
    target, taken = statement(**stored), statement(**stored)
    void = statement(verb=VOIDED, **{**stored, "stored": "2026-11-28T10:00:01.000Z"})
    void["object"] = {"objectType": "StatementRef", "id": target["id"]}
    other = statement(actor="someone-else@example.com", **{**stored, "stored": "2026-11-28T10:00:01.000Z"})
    other["id"] = taken["id"]
    sink = pipeline.synthetic_sink()
    first = sink.decode_batch([Message(0, 1, encode_statements(tenant, "k", [orjson.dumps(target),
                                                                              orjson.dumps(taken)]))])
    second = sink.decode_batch([Message(0, 2, encode_statements(tenant, "k", [orjson.dumps(void),
                                                                               orjson.dumps(other)]))])
    assert pipeline.stored_count(tenant) == 0  # decoding wrote nothing
    assert sink.write_decoded(first).written == 2
    assert sink.write_decoded(second).written == 1  # the void; the other statement is kept out
    assert sink.write_decoded(second).written == 1  # a retry: the same rows, idempotently
    rows = pipeline.query("SELECT statement_id, voided, actor_ifi FROM statements FINAL WHERE tenant = %(t)s "
                          "ORDER BY statement_id", {"t": tenant})
    assert sorted((sid, voided) for sid, voided, _ in rows) == sorted([(target["id"], 1), (taken["id"], 0),
                                                                          (void["id"], 0)])
    assert not [ifi for _, _, ifi in rows if "someone-else" in ifi]  # the first stored under the id is kept
    conflicts = ClickHouse(pipeline.settings, size=1).run("statement_conflicts",
                                                           {"tenant": tenant, "statement_id": taken["id"]})
    assert len(conflicts) == 1


def test_newest_first_pages_are_right_across_time_windows(pipeline: Pipeline) -> None:
    # Descending pages are looked for in growing stored-time windows first (lrs/service/statements/page.py): pages
    # that straddle window edges, sparse filters and `since`/`until` must still list every statement once,
    # newest first.
    from lrs.core.kafka.envelope import Envelope
    from lrs.core.store.clickhouse import ClickHouse
    from streams.rows import statement_row

    tenant, http = pipeline.new_tenant()
    now = datetime.now(UTC)
    ages_s = [40 * 86400 + 1, 40 * 86400, 10 * 86400, 2 * 86400, 5 * 3600, 30 * 60, 60, 1]  # oldest first
    rows, expected = [], []
    for i, age in enumerate(ages_s):
        stored = (now - timedelta(seconds=age)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        st = statement(actor=f"window{i % 2}@example.com", stored=stored, timestamp=stored)
        rows.append(statement_row(Envelope(tenant, st, "k")))
        expected.append(st["id"])
    store = ClickHouse(pipeline.settings, size=1)
    try:
        store.insert("statements_insert", rows)
    finally:
        store.close()
    newest_first = expected[::-1]

    def pages(path: str) -> list[str]:
        ids = []
        while path:
            body = http.get(path).json()
            ids += [s["id"] for s in body["statements"]]
            path = body["more"]
        return ids

    for limit in (1, 2, 3, 100):
        got = pages(f"/xapi/statements?limit={limit}")
        assert got == newest_first, limit
    agent = json.dumps({"mbox": "mailto:window0@example.com"})
    assert pages(f"/xapi/statements?limit=2&agent={quote(agent)}") == newest_first[1::2]
    since = (now - timedelta(days=3)).isoformat().replace("+00:00", "Z")
    until = (now - timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
    assert pages(f"/xapi/statements?limit=1&since={quote(since)}&until={quote(until)}") == newest_first[2:5]


def test_the_stored_time_tables_keep_each_utc_month_in_parts_of_its_own(pipeline: Pipeline) -> None:
    # Migration 041: the four tables keyed by stored time are partitioned by the UTC month of `stored`, so new
    # statements never merge into older months' parts. Two statements stored a second apart
    # across a UTC month boundary land in two partitions, stay there through OPTIMIZE FINAL, and read back as
    # one page in stored order.
    from lrs.core.kafka.envelope import Envelope
    from lrs.core.store.clickhouse import ClickHouse
    from streams.rows import statement_row

    tenant, http = pipeline.new_tenant()
    # Years before anything else the tests store, so that the two partitions hold this test's rows only.
    stored = ["2003-01-31T23:59:59.500Z", "2003-02-01T00:00:00.500Z"]
    sts = [statement(actor="months@example.com", stored=s, timestamp=s) for s in stored]
    store = ClickHouse(pipeline.settings, size=1)
    try:
        store.insert("statements_insert", [statement_row(Envelope(tenant, st, "k")) for st in sts])
    finally:
        store.close()
    client = pipeline.clickhouse()
    try:
        # Rows per statement: the JSON, its narrow columns, its filter values (agent, verb, activity), its hourly
        # counts (those three and the whole tenant).
        for table, per_statement in (("statement_json_by_month", 1), ("statements_by_stored_month", 1),
                                     ("statement_keys_by_month", 3), ("statement_key_hours_by_month", 4)):
            client.execute(f"OPTIMIZE TABLE {table} FINAL")
            parts = client.execute("SELECT partition, sum(rows) FROM system.parts WHERE database = currentDatabase() "
                                   "AND table = %(t)s AND active AND partition IN ('200301', '200302') "
                                   "GROUP BY partition ORDER BY partition", {"t": table})
            assert parts == [("200301", per_statement), ("200302", per_statement)], table
    finally:
        client.disconnect()
    got = http.get("/xapi/statements", params={"limit": 10, "ascending": "true"}).json()["statements"]
    assert [s["id"] for s in got] == [st["id"] for st in sts]
    assert [s["stored"] for s in got] == ["2003-01-31T23:59:59.500Z", "2003-02-01T00:00:00.500Z"]


def test_more_tokens_are_signed_and_strictly_checked(pipeline: Pipeline) -> None:
    # Issue 16: unsigned tokens let `limit:"abc"` or `after_us:null` give 500, `limit:-5` 503 and `limit:5000`
    # 5,000 statements past the cap. Now any change to a token is a 400 with an xAPI error.
    import base64

    tenant, http = pipeline.new_tenant()
    sent = [statement(actor=f"more{i}@example.com") for i in range(3)]
    assert http.post("/xapi/statements", json=sent).status_code == 200
    body = http.get("/xapi/statements", params={"limit": 1}).json()
    token = body["more"].split("more=", 1)[1]
    assert len(http.get(body["more"]).json()["statements"]) == 1

    _, other = pipeline.new_tenant()
    version, payload, mac = token.split(".")
    state = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = []
    for change in ({"limit": 5000}, {"limit": "abc"}, {"limit": -5}, {"after_us": None}):
        altered = base64.urlsafe_b64encode(json.dumps(state | change).encode()).decode().rstrip("=")
        forged += [f"{version}.{altered}.{mac}", altered]  # re-signed with the old MAC, and unsigned as before
    for bad in [*forged, token[:-2], token + "A", "", "%%%", "v1..", "x" * 5000]:
        for client in (http, other):
            got = client.get("/xapi/statements", params={"more": bad})
            assert got.status_code == 400, (bad[:60], got.status_code, got.text[:200])
            assert "more token" in got.json()["error"]["message"]
    # Another tenant's client cannot continue this tenant's query even with the genuine token.
    assert other.get("/xapi/statements", params={"more": token}).status_code == 400
    assert http.head("/xapi/statements", params={"more": token}).status_code == 200


def test_a_get_waits_only_for_its_own_tenants_writes(pipeline: Pipeline) -> None:
    # Issue 16: every GET waited until the sink passed the highest offset any tenant produced on the host, so
    # under another tenant's load every read waited the sink's lag (here: the whole bound, the sink paused).
    import os
    import signal
    import time

    from lrs.service.produced_board import tenant_bucket
    from tests.support import wait_until

    reader_tenant, reader = pipeline.new_tenant()
    writer_tenant, writer = pipeline.new_tenant()
    while tenant_bucket(writer_tenant) == tenant_bucket(reader_tenant):  # a shared bucket waits for both
        writer_tenant, writer = pipeline.new_tenant()
    mine = statement(actor="reader@example.com")
    assert reader.post("/xapi/statements", json=mine).status_code == 200
    acked = datetime.now(UTC)

    def reader_caught_up() -> bool:
        # Consistent-Through moves past the ack only once the sink *recorded* the reader's offsets in
        # sink_offsets, which it does after the statement rows (readable a little earlier): waiting for the row
        # alone let the sink be stopped in between, and the reader then waited the whole bound for itself.
        through = reader.get("/xapi/statements", params={"limit": 1}).headers["X-Experience-API-Consistent-Through"]
        return datetime.fromisoformat(through) >= acked

    wait_until(reader_caught_up, 60, what="the sink to record the reader's write")
    assert reader.get("/xapi/statements", params={"statementId": mine["id"]}).status_code == 200
    worker = pipeline.workers[0].proc
    assert worker is not None
    os.killpg(worker.pid, signal.SIGSTOP)  # the sink stops: the writer's statement stays in Kafka
    try:
        theirs = statement(actor="writer@example.com")
        assert writer.post("/xapi/statements", json=theirs).status_code == 200
        start = time.monotonic()
        got = reader.get("/xapi/statements", params={"limit": 5})
        took = time.monotonic() - start
        assert got.status_code == 200 and [s["id"] for s in got.json()["statements"]] == [mine["id"]]
        assert took < pipeline.settings.consistency_wait_s / 2, f"the reader waited {took:.2f}s for another tenant"
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
    # The writer itself still reads its own write once the sink resumes.
    wait_until(lambda: pipeline.stored_count(writer_tenant) == 1, 60, what="the writer's statement")
    assert writer.get("/xapi/statements", params={"statementId": theirs["id"]}).status_code == 200


def test_every_filter_and_combination_matches_a_reference_on_the_lookup_tables(pipeline: Pipeline) -> None:
    # Issue 16: filtered pages come from statement_keys_by_month (one range per filter value, in stored-time
    # windows sized by statement_key_hours_by_month) merged with matching StatementRefs. Every filter, combination,
    # order and page size must list exactly what the xAPI rules select, here computed in Python from the same row
    # columns.
    import random

    from lrs.core.kafka.envelope import Envelope
    from lrs.core.store.clickhouse import ClickHouse
    from streams.rows import COL, statement_row

    rng = random.Random(16)
    tenant, http = pipeline.new_tenant()
    now = datetime.now(UTC)
    agents = [f"k{i}@example.com" for i in range(3)]
    verbs = [f"http://example.com/verbs/v{i}" for i in range(2)]
    acts = [f"https://example.com/act/{i}" for i in range(3)]
    regs = [str(uuid.uuid4()) for _ in range(2)]
    rows: list[list] = []
    # Ages from 90 days down to 1 s, a few sharing a stored time (ties are settled by id).
    ages = sorted((rng.choice([90 * 86400, 20 * 86400, 3 * 86400, 7200, 600, 5]) + rng.randint(0, 3) for _ in
                   range(70)), reverse=True)
    for age in ages:
        stored = (now - timedelta(seconds=age)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        context: dict = {"contextActivities": {"parent": [{"id": rng.choice(acts)}]}}
        if rng.random() < 0.5:
            context["registration"] = rng.choice(regs)
        if rng.random() < 0.3:
            context["instructor"] = {"mbox": f"mailto:{rng.choice(agents)}"}
        st = statement(actor=rng.choice(agents), verb=rng.choice(verbs), activity=rng.choice(acts),
                       stored=stored, timestamp=stored, context=context)
        if rows and rng.random() < 0.15:  # a StatementRef to an earlier statement
            st["object"] = {"objectType": "StatementRef", "id": rows[rng.randrange(len(rows))][COL["statement_id"]]}
        rows.append(statement_row(Envelope(tenant, st, "k")))
    store = ClickHouse(pipeline.settings, size=1)
    try:
        store.insert("statements_insert", rows)
    finally:
        store.close()
    by_id = {r[COL["statement_id"]]: r for r in rows}

    def matches(r: list, f: dict) -> bool:
        if "agent" in f and f["agent"] not in r[COL["related_agents" if f.get("related_agents") else "agents"]]:
            return False
        if "verb" in f and r[COL["verb_id"]] != f["verb"]:
            return False
        if "activity" in f and not ((f.get("related_activities") and f["activity"] in r[COL["related_activities"]])
                                    or (r[COL["object_type"]] == "Activity" and r[COL["object_id"]] == f["activity"])):
            return False
        return "registration" not in f or r[COL["registration"]] == f["registration"]

    def expected(f: dict, since_us: int | None, until_us: int | None, ascending: bool) -> list[str]:
        chosen = []
        for r in by_id.values():
            target = by_id.get(r[COL["object_id"]]) if r[COL["object_type"]] == "StatementRef" else None
            if not (matches(r, f) or (target is not None and matches(target, f))):
                continue
            if (since_us is not None and r[COL["stored_us"]] <= since_us) or (
                    until_us is not None and r[COL["stored_us"]] > until_us):
                continue
            chosen.append(r)
        chosen.sort(key=lambda r: (r[COL["stored_us"]], r[COL["statement_id"]]), reverse=not ascending)
        return [r[COL["statement_id"]] for r in chosen]

    def listed(params: dict) -> list[str]:
        ids, path, query = [], "/xapi/statements", params
        while path:
            body = http.get(path, params=query).json()
            ids += [s["id"] for s in body["statements"]]
            path, query = body["more"], None
        return ids

    since = now - timedelta(days=4)
    until = now - timedelta(minutes=30)
    to_us = lambda t: int(t.timestamp() * 1_000_000)  # noqa: E731
    mbox = lambda a: json.dumps({"mbox": f"mailto:{a}"})  # noqa: E731
    filters = [
        {}, {"agent": agents[0]}, {"agent": agents[1], "related_agents": True}, {"verb": verbs[0]},
        {"activity": acts[0]}, {"activity": acts[1], "related_activities": True}, {"registration": regs[0]},
        {"agent": agents[0], "verb": verbs[1]}, {"agent": agents[2], "activity": acts[2]},
        {"registration": regs[1], "verb": verbs[0], "agent": agents[1], "related_agents": True},
        {"verb": verbs[1], "activity": acts[0], "related_activities": True},
    ]
    checked = 0
    for f in filters:
        for ascending in (False, True):
            for since_t, until_t in ((None, None), (since, None), (None, until), (since, until)):
                params: dict = {"limit": rng.choice([1, 3, 50]), "ascending": str(ascending).lower()}
                for name in ("verb", "activity", "registration"):
                    if name in f:
                        params[name] = f[name]
                if "agent" in f:
                    params["agent"] = mbox(f["agent"])
                for flag in ("related_agents", "related_activities"):
                    if f.get(flag):
                        params[flag] = "true"
                if since_t:
                    params["since"] = since_t.isoformat().replace("+00:00", "Z")
                if until_t:
                    params["until"] = until_t.isoformat().replace("+00:00", "Z")
                want = expected({k: (f"mbox:mailto:{v}" if k == "agent" else v) for k, v in f.items()},
                                to_us(since_t) if since_t else None, to_us(until_t) if until_t else None, ascending)
                got = listed(params)
                assert got == want, (f, ascending, since_t, until_t, params["limit"])
                checked += bool(want)
    assert checked > 60  # most combinations select something


def test_the_worker_stores_statements_on_its_configured_event_loop(pipeline: Pipeline) -> None:
    # Settings.worker_event_loop (uvloop by default): the worker that just stored this statement has uvloop's
    # C library mapped (nothing else in a worker imports it).
    _, http = pipeline.new_tenant()
    sent = statement()
    assert http.post("/xapi/statements", json=sent).status_code == 200
    assert http.get("/xapi/statements", params={"statementId": sent["id"]}).json()["id"] == sent["id"]
    worker = pipeline.workers[0].proc
    assert worker is not None and worker.poll() is None
    maps = Path(f"/proc/{worker.pid}/maps").read_text()
    assert "uvloop/loop." in maps, "the worker runs on asyncio's own loop"
