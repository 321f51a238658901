"""Streaming analytics on real services: the tables converge to the batch recomputation, exactly.

One pipeline with TWO workers in one group serves both tests of this module.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer

from lrs.core.store.clickhouse import ClickHouse, bind
from lrs.core.store.queries import query
from lrs.core.util.timeparse import format_timestamp
from lrs.service.publisher import Publisher
from lrs.tools.demo.cohort import generate_cohort
from lrs.tools.erasure import request_erasure, wait_applied
from streams.analytics import query_params
from streams.refresh import ALL_TABLES, SliceRefresher
from tests.support import Pipeline, analytics_differences, make_settings, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
ADMIN = {"objectType": "Agent", "mbox": "mailto:admin@example.com"}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Broker + ClickHouse + LRS + two workers, analytics refreshed quickly."""
    settings = make_settings(tmp_path_factory.mktemp("analytics"), analytics_refresh_s=0.5,
                             analytics_tick_s=3600.0)  # the event-driven clock propagation alone
    running = Pipeline(settings, workers=2).start()
    try:
        yield running
    finally:
        running.stop()


def _void(target: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "actor": ADMIN, "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
            "object": {"objectType": "StatementRef", "id": target}}


def _post(http: httpx.Client, statements: list[dict[str, Any]], size: int = 100) -> None:
    for i in range(0, len(statements), size):
        batch = statements[i:i + size]
        for attempt in range(10):
            response = http.post("/xapi/statements", json=batch)
            if response.status_code == 200:
                break
            assert response.status_code == 503 and attempt < 9, response.text
            time.sleep(1)


def _course(statement: dict[str, Any]) -> str:
    if statement["object"].get("definition", {}).get("type", "").endswith("/course"):
        return statement["object"]["id"]
    return statement["context"]["contextActivities"]["grouping"][0]["id"]


def _actor(statement: dict[str, Any]) -> str:
    actor = statement["actor"]
    return actor.get("mbox") or actor["account"]["name"]


_differences = analytics_differences


def test_tables_converge_to_batch_recomputation(two_workers: Pipeline) -> None:
    """Duplicates, shuffles, late events, voids before and after their targets, a worker killed, an erasure and the
    void of a months-old statement: exact."""
    pipeline = two_workers
    rng = random.Random(42)
    tenant, http = pipeline.new_tenant()
    cohort = generate_cohort(brand="conv", learners=90, courses=3, days=35, seed=3)
    statements = list(cohort.statements)
    # A statement four months older than the rest, voided at the very end (after its learner's row was computed).
    ancient = {**statements[-1], "id": str(uuid.uuid4()), "timestamp": format_timestamp(
        dt.datetime.fromisoformat(statements[-1]["timestamp"].replace("Z", "+00:00")) - dt.timedelta(days=120))}
    statements.append(ancient)

    # One learner voided entirely, plus ~3% of the other statements.
    gone = _actor(statements[0])
    voided = {s["id"] for s in statements if _actor(s) == gone}
    voided |= {s["id"] for s in rng.sample(statements[:-1], k=len(statements) // 33)}
    late = [s for s in statements if rng.random() < 0.1 and s is not ancient]
    late_ids = {s["id"] for s in late}
    main = [s for s in statements if s["id"] not in late_ids]
    rng.shuffle(main)
    late.sort(key=lambda s: s["timestamp"])  # old timestamps, sent last
    voids_before_target = [_void(i) for i in sorted(voided & late_ids)]
    voids_after_target = [_void(i) for i in sorted(voided - late_ids)]
    duplicates = rng.sample([s for s in main if s["id"] not in voided], k=len(main) // 20)
    half = len(main) // 2
    first = main[:half] + voids_before_target
    rng.shuffle(first)
    second = main[half:]

    with http:
        _post(http, first)
        pipeline.workers[1].kill()  # kill -9 midway
        _post(http, second)
        _post(http, duplicates)  # same id, same content: delivered again (ids must be unique per request)
        pipeline.workers[1].start()
        _post(http, late)
        _post(http, duplicates[:50])
        _post(http, voids_after_target)

    total = len(statements) + len(voids_before_target) + len(voids_after_target)
    wait_until(lambda: pipeline.stored_count(tenant) >= total, 180, interval=1,
               what=f"{total} statements in ClickHouse")
    # A GDPR erasure of one learner, then the void of the months-old statement of another.
    erased = _actor(next(s for s in statements if _actor(s) not in (gone, _actor(ancient))))
    erased_agent = next(s["actor"] for s in statements if _actor(s) == erased)
    publisher = Publisher(pipeline.settings)
    try:
        erasure = request_erasure(pipeline.settings, publisher, tenant, erased_agent)
    finally:
        publisher.close()
    assert wait_applied(ClickHouse(pipeline.settings, size=1), erasure, 120) is not None
    again = httpx.Client(base_url=http.base_url, auth=http.auth, headers=http.headers, timeout=30)
    with again:
        _post(again, [_void(ancient["id"])])
    voided.add(ancient["id"])
    problems: list[str] = []

    def converged() -> bool:
        problems[:] = _differences(pipeline, tenant)
        return not problems

    try:
        wait_until(converged, 240, interval=2, what="analytics to converge")
    except AssertionError:  # what differs and what the workers said, at the time of the failure
        logs = "\n".join(w.log_tail(60) for w in pipeline.workers)
        raise AssertionError(f"analytics did not converge in 240 s; differences: {problems[:30]}\n{logs}") from None
    # Deleting superseded versions leaves the views as they are, with no age bound at all: a round in flight (its
    # rows written, its version not yet published) is above every published version, and the cleanup spares it.
    SliceRefresher(pipeline.settings).cleanup(older_than_s=0)
    assert _differences(pipeline, tenant) == []

    def one_version_per_slice() -> bool:
        # Again each time: a worker may publish a newer version after a cleanup (a late marker, a stale slice),
        # which leaves the one before it superseded until the next cleanup.
        SliceRefresher(pipeline.settings).cleanup(older_than_s=0)
        client = pipeline.clickhouse()
        try:
            return client.execute("SELECT uniqExact(course_id) = uniqExact(course_id, version) FROM "
                                  "course_summary_data WHERE tenant = %(t)s", {"t": tenant})[0][0] == 1
        finally:
            client.disconnect()

    wait_until(one_version_per_slice, 90, interval=2, what="superseded versions to be deleted")

    # Not only equal to the batch SQL: equal to what the generator knows, voids removed.
    alive = [s for s in statements if s["id"] not in voided and _actor(s) != erased]
    learners: dict[str, set[str]] = defaultdict(set)
    counts: dict[str, int] = defaultdict(int)
    completed: dict[str, set[str]] = defaultdict(set)
    for s in alive:
        learners[_course(s)].add(_actor(s))
        counts[_course(s)] += 1
        if s["verb"]["id"].endswith("/completed") and s["object"]["id"] == _course(s):
            completed[_course(s)].add(_actor(s))
    client = pipeline.clickhouse()
    try:
        summary = {r[0]: r[1:] for r in client.execute(
            "SELECT course_id, learners_started, completed FROM course_summary WHERE tenant = %(t)s", {"t": tenant})}
        daily = dict(client.execute("SELECT course_id, sum(statements) FROM engagement_daily WHERE tenant = %(t)s "
                                    "GROUP BY course_id", {"t": tenant}))
        gone_rows = client.execute("SELECT count() FROM learner_course WHERE tenant = %(t)s AND actor_ifi LIKE %(a)s",
                                   {"t": tenant, "a": f"%{gone.split(':')[-1]}"})[0][0]
        # The erased learner is in no analytics row, and in no row of the per-learner tables, of any version.
        erased_rows = [client.execute(f"SELECT count() FROM {table} WHERE tenant = %(t)s AND actor_ifi LIKE %(a)s",
                                      {"t": tenant, "a": f"%{erased.split(':')[-1]}"})[0][0]
                       for table in ("learner_course_rows", "learner_state", "learner_statements")]
    finally:
        client.disconnect()
    assert summary == {c: (len(learners[c]), len(completed[c])) for c in learners}
    assert daily == dict(counts)
    assert gone_rows == 0
    assert erased_rows == [0, 0, 0]


def _st(actor: str, verb: str, obj: dict[str, Any], when: float, course: dict[str, Any],
        result: dict[str, Any] | None = None) -> dict[str, Any]:
    statement = {"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "mbox": f"mailto:{actor}@example.com"},
                 "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}}, "object": obj,
                 "timestamp": format_timestamp(dt.datetime.fromtimestamp(when, tz=dt.UTC)),
                 "context": {"contextActivities": {"grouping": [course]}}}
    if result:
        statement["result"] = result
    return statement


def test_cleanup_spares_a_round_in_flight_whatever_its_age(two_workers: Pipeline) -> None:
    """The cleanup deletes the versions below a slice's newest published one (superseded, or written by a round that
    crashed), and keeps the published one and one above it: a round in flight, however old its version (a round
    held up by a ClickHouse outage publishes long after its start, which is its version)."""
    pipeline = two_workers
    tenant = f"cleanup-{uuid.uuid4().hex[:8]}"
    tables = [t for t in ALL_TABLES if t.cleanup_sql()]
    client = pipeline.clickhouse()
    try:
        for table in tables:  # versions 10 (crashed), 20 (superseded), 30 (published), 40 (in flight); all ancient;
            # course d: never published yet (its first round in flight, one before it that crashed)
            client.execute(f"INSERT INTO {table.table} (tenant, course_id, version) VALUES",
                           [[tenant, "c", v] for v in (10, 20, 30, 40)] + [[tenant, "d", 5], [tenant, "d", 6]])
        client.execute("INSERT INTO analytics_slices (tenant, course_id, version) VALUES",
                       [[tenant, "c", 20], [tenant, "c", 30]])
        SliceRefresher(pipeline.settings).cleanup(older_than_s=0)

        def versions() -> dict[str, list[tuple[str, int]]]:
            return {t.table: sorted(client.execute(f"SELECT DISTINCT course_id, version FROM {t.table} "
                                                   "WHERE tenant = %(t)s", {"t": tenant})) for t in tables}

        # Mutations run in the background: each table's one delete is done once 10 and 20 are gone.
        wait_until(lambda: all(("c", 10) not in v and ("c", 20) not in v for v in versions().values()), 60,
                   what="cleanup")
        assert versions() == {t.table: [("c", 30), ("c", 40), ("d", 5), ("d", 6)] for t in tables}
    finally:
        client.disconnect()


def test_statuses_flags_voids_and_at_risk_events(two_workers: Pipeline) -> None:
    """Completion/pass/certificate flags, sessions, dropped and at-risk by event time, voided learner, events."""
    pipeline = two_workers
    tenant, http = pipeline.new_tenant()
    adl = "http://adlnet.gov/expapi/verbs/"
    course = {"objectType": "Activity", "id": f"https://{tenant}.example/course",
              "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
    m1, m2 = ({"objectType": "Activity", "id": f"https://{tenant}.example/m{i}",
               "definition": {"type": "http://adlnet.gov/expapi/activities/module"}} for i in (1, 2))
    t0, day = 1_790_000_000.0, 86_400.0
    ada = [_st("ada", adl + "launched", course, t0, course), _st("ada", adl + "experienced", m1, t0 + 600, course),
           _st("ada", adl + "experienced", m2, t0 + 1200, course),
           _st("ada", adl + "completed", course, t0 + 7200, course, {"completion": True}),
           _st("ada", adl + "passed", course, t0 + 7260, course, {"success": True}),
           _st("ada", "http://id.tincanapi.com/verb/earned", {"objectType": "Activity", "id": "urn:cert:1"},
               t0 + 7300, course)]
    bob = [_st("bob", adl + "experienced", m1, t0, course)]  # silent for 10 days: dropped at module 1
    rae = [_st("rae", adl + "experienced", m1, t0 + 2 * day, course),
           _st("rae", adl + "experienced", m2, t0 + 6 * day, course)]  # 4 days idle: at risk at module 2
    zed = [_st("zed", adl + "experienced", m1, t0 + 10 * day, course)]  # moves the clock
    vic = [_st("vic", adl + "experienced", m1, t0 + 9 * day, course)]
    with http:
        _post(http, ada + bob + rae + zed + vic)
        _post(http, [_void(s["id"]) for s in vic])

    rows: dict[str, tuple] = {}

    def learners_ready() -> bool:
        client = pipeline.clickhouse()
        try:
            found = client.execute(
                "SELECT actor_ifi, status, completed, passed, certified, sessions, time_on_task_s, furthest_position "
                "FROM learner_course WHERE tenant = %(t)s", {"t": tenant})
        finally:
            client.disconnect()
        rows.clear()
        rows.update({r[0].split(":")[-1].split("@")[0]: r[1:] for r in found})
        return set(rows) == {"ada", "bob", "rae", "zed"} and rows["rae"][0] == "at_risk"

    wait_until(learners_ready, 120, interval=1, what=f"learner_course rows ({rows})")
    assert rows["ada"] == ("completed", 1, 1, 1, 2, 1200.0 + 100.0, 2)  # gaps 600+600, then 60+40 after a 100 min gap
    assert rows["bob"][:4] == ("dropped", 0, 0, 0) and rows["bob"][-1] == 1
    assert rows["rae"][:1] == ("at_risk",) and rows["rae"][-1] == 2
    assert rows["zed"][0] == "started"

    settings = pipeline.settings
    consumer = KafkaConsumer(settings.analytics_at_risk_topic, bootstrap_servers=settings.kafka_bootstrap,
                             auto_offset_reset="earliest", enable_auto_commit=False, consumer_timeout_ms=2000,
                             group_id=None)
    events: dict[str, dict] = {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and {"bob", "rae"} - set(events):
            for record in consumer:
                event = orjson.loads(record.value)
                if event["tenant"] == tenant:
                    events[event["actor_ifi"].split(":")[-1].split("@")[0]] = event
    finally:
        consumer.close()
    assert events["bob"]["status"] == "dropped" and events["rae"]["status"] == "at_risk"
    assert events["rae"]["course_id"] == course["id"] and events["rae"]["furthest_module"] == m2["id"]
    assert events["bob"]["inactive_s"] == int(10 * day - 3600) and "ada" not in events


def test_a_statement_dated_next_year_does_not_push_the_clock(two_workers: Pipeline) -> None:
    """The watermark counts a statement's time at most up to its stored time: a client clock a year ahead
    does not turn every other learner dropped."""
    pipeline = two_workers
    tenant, http = pipeline.new_tenant()
    course = {"objectType": "Activity", "id": f"https://{tenant}.example/course",
              "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
    adl = "http://adlnet.gov/expapi/verbs/"
    now = time.time()
    recent = _st("amy", adl + "experienced", course, now - 3600, course)
    future = _st("fay", adl + "experienced", course, now + 365 * 86_400.0, course)
    with http:
        _post(http, [recent, future])
    before = int(time.time() * 1_000_000)
    rows: dict[str, tuple] = {}

    def computed() -> bool:
        found = pipeline.query("SELECT actor_ifi, status, inactive_s, watermark_us FROM learner_course "
                               "WHERE tenant = %(t)s", {"t": tenant})
        rows.clear()
        rows.update({r[0].split(":")[-1].split("@")[0]: r[1:] for r in found})
        return set(rows) == {"amy", "fay"}

    wait_until(computed, 60, interval=1, what=f"learner_course rows ({rows})")
    wait_until(lambda: _differences(pipeline, tenant) == [], 60, interval=1, what="convergence")
    lateness_us = int(pipeline.settings.analytics_lateness_s * 1_000_000)
    watermark = rows["amy"][2]
    # The clock is the future statement's stored time (now), not its timestamp (next year), minus the lateness.
    assert before - lateness_us - 120_000_000 <= watermark <= before - lateness_us
    assert rows["amy"][0] == "started" and rows["fay"][0] == "started" and rows["fay"][1] < -360 * 86_400


def test_declared_structure_orders_the_funnel(two_workers: Pipeline) -> None:
    """PUT /api/courses/structure: declared order wins over first visits; its last module completes the course."""
    pipeline = two_workers
    tenant, http = pipeline.new_tenant()
    adl = "http://adlnet.gov/expapi/verbs/"
    course = {"objectType": "Activity", "id": f"https://{tenant}.example/course",
              "definition": {"type": "http://adlnet.gov/expapi/activities/course"}}
    first, last = ({"objectType": "Activity", "id": f"https://{tenant}.example/{name}",
                    "definition": {"type": "http://adlnet.gov/expapi/activities/module"}} for name in ("a", "b"))
    t0 = 1_790_000_000.0
    # Learners visit "a" before "b", but the course declares "b" first; finishing "a" finishes the course.
    statements = [_st("amy", adl + "experienced", first, t0, course),
                  _st("amy", adl + "experienced", last, t0 + 60, course),
                  _st("amy", adl + "completed", first, t0 + 120, course, {"completion": True}),
                  _st("ben", adl + "experienced", first, t0 + 30, course)]
    structure = [{"course_id": course["id"], "name": "Course",
                  "modules": [{"module_id": last["id"], "name": "B"}, {"module_id": first["id"], "name": "A"}]}]
    with http:
        _post(http, statements)
        assert http.put("/api/courses/structure", json={"courses": []}).status_code == 400
        response = http.put("/api/courses/structure", json=structure)
        assert response.status_code == 200, response.text
        declared = http.get("/api/courses/structure").json()["courses"]
    assert [m["module_id"] for m in declared[0]["modules"]] == [last["id"], first["id"]]

    funnel: list[tuple] = []

    def declared_funnel() -> bool:
        client = pipeline.clickhouse()
        try:
            funnel[:] = client.execute("SELECT position, module_id, declared, learners_reached FROM course_funnel "
                                       "WHERE tenant = %(t)s ORDER BY position", {"t": tenant})
        finally:
            client.disconnect()
        # The structure may be applied before the sink has written the statements: wait for both.
        return funnel == [(1, last["id"], 1, 1), (2, first["id"], 1, 2)]

    wait_until(declared_funnel, 60, interval=1, what=f"the declared funnel ({funnel})")
    wait_until(lambda: _differences(pipeline, tenant) == [], 60, interval=1, what="convergence")
    client = pipeline.clickhouse()
    try:
        amy = client.execute("SELECT status, completed, furthest_position FROM learner_course WHERE tenant = %(t)s "
                             "AND actor_ifi LIKE '%%amy%%'", {"t": tenant})
    finally:
        client.disconnect()
    assert amy == [("completed", 1, 2)]


def test_learner_aggregates_in_sql_equal_the_rows_built_in_python(two_workers: Pipeline) -> None:
    """``learner_aggregates`` (ClickHouse aggregates each learner's statements) gives exactly the learner_state rows
    that streams.learners builds from the statements themselves: voided rows and redelivered duplicates left out,
    NULL results, certificate verbs and types, module visits out of order, a time dated after its stored time, times
    before 1970 and gaps of exactly the session cap."""
    from streams.learners import STATE_COLUMNS, Rules, aggregate_params, aggregated_rows, learner_row

    tenant, course = f"agg{uuid.uuid4().hex[:8]}", "urn:course"
    rules = Rules(cap_us=1_800_000_000, cert_verbs=frozenset({"urn:earned"}), cert_types=frozenset({"urn:cert"}))
    rng = random.Random(3)
    verbs = ["urn:exp", "http://adlnet.gov/expapi/verbs/completed", "http://adlnet.gov/expapi/verbs/passed",
             "urn:earned"]
    rows, counting = [], {}
    for learner in range(12):
        actor = f"mbox:mailto:l{learner}@example.com"
        for k in range(rng.randint(1, 40)):
            t = 1_790_000_000_000_000 + rng.randint(0, 30 * 86_400) * 1_000_000
            stored = t + rng.choice([0, 5_000_000, -86_400_000_000])  # some dated after they were stored
            statement = (t, stored, rng.choice(verbs), rng.choice([course, "urn:m1", "urn:m2"]),
                         rng.choice(["", "urn:m1", "urn:m2", "urn:m3"]), rng.choice([None, 0, 1]),
                         rng.choice([None, 0, 1]), rng.choice([[], ["urn:cert"], ["urn:other"]]))
            voided = int(rng.random() < 0.1)
            row = [tenant, course, actor, t, f"{learner}-{k}", stored, *statement[2:], [actor], 0, 0]
            rows.append(row)
            if rng.random() < 0.2:
                rows.append(list(row))  # redelivered: the same key again
            if voided:
                rows.append([*row[:-2], 1, 1])  # the voided rewrite of the statement
            else:
                counting.setdefault(actor, []).append(statement)
    # Times around 1970 (days floored, hours truncated: an hour that spans two days) and gaps of exactly the cap.
    edge = "mbox:mailto:edge@example.com"
    for k, t in enumerate([-90_000_000_000, -1_800_000_000, -1, 0, 1, 1_800_000_001, 3_600_000_001,
                           86_399_999_999, 86_400_000_000, 1_790_000_000_000_000]):
        statement = (t, t, "urn:exp", "urn:m1", "urn:m1", None, None, [])
        rows.append([tenant, course, edge, t, f"edge-{k}", t, *statement[2:], [edge], 0, 0])
        counting.setdefault(edge, []).append(statement)
    client = two_workers.clickhouse()
    try:
        client.execute("INSERT INTO learner_statements (tenant, course_id, actor_ifi, timestamp_us, statement_id, "
                       "stored_us, verb_id, object_id, module_id, result_success, result_completion, types, "
                       "related_agents, voided, version) VALUES", rows)
    finally:
        client.disconnect()
    expected = [learner_row(tenant, course, actor, statements, rules, 5)
                for actor, statements in sorted(counting.items())]
    refresher = SliceRefresher(two_workers.settings)
    params = {"tenant": tenant, **aggregate_params(rules)}
    actors = sorted({row[2] for row in rows})
    by_pairs = refresher.clickhouse.run("learner_aggregates", {**params, "pairs": [(course, a) for a in actors]})
    whole = refresher.clickhouse.run("learner_aggregates_course", {**params, "course_id": course})
    for found in (by_pairs, whole):
        built = aggregated_rows(tenant, course, [], [r[1:] for r in found], 5)
        assert [dict(zip(STATE_COLUMNS, r, strict=True)) for r in built] == \
            [dict(zip(STATE_COLUMNS, r, strict=True)) for r in expected]


def test_refresh_statements_run_on_chdb(tmp_path) -> None:
    """The learner rows, the course loaded from them, the tables written from memory (engagement copied in the
    database), the views (learner_course's join with the published clock) and the cleanup mutation also run on
    modern ClickHouse, and the rows equal the batch queries there."""
    chdb_session = pytest.importorskip("chdb.session")
    from clickhouse_driver.util.escape import escape_param, escape_params

    from lrs.core.config import Settings
    from lrs.core.kafka.envelope import Envelope
    from lrs.core.store.queries import migrations
    from streams.course_state import CourseState
    from streams.learners import Rules, aggregate_params, aggregated_rows
    from streams.rows import statement_row
    from tests.integration.test_sql_engines import _EscapeContext

    ctx = _EscapeContext()
    session = chdb_session.Session(str(tmp_path / "chdb"))
    try:
        session.query("CREATE DATABASE IF NOT EXISTS lrs")
        session.query("USE lrs")
        for migration in migrations():
            for statement in migration.statements:
                session.query(statement)
        cohort = generate_cohort(brand="chdb", learners=25, courses=2, days=21, seed=5)
        rows = [statement_row(Envelope("t", {**s, "stored": s["timestamp"]})) for s in cohort.statements]
        values = ", ".join("(" + ", ".join(str(escape_param(v, ctx)) for v in row) + ")" for row in rows)
        session.query(f"{query('statements_insert').sql} {values}")
        clock = int(session.query("SELECT max(timestamp_us) FROM statements", "CSV").bytes())
        courses = [c.id for c in cohort.courses]
        params = {**query_params(Settings(), "t", courses, clock), "version": 7, "before_us": 10**18}
        rendered = escape_params(bind(params), ctx)
        # The learners' rows, from the per-learner copy the materialized view filled (as the refresh does).
        refresher_rules = Rules(cap_us=params["cap_us"], cert_verbs=frozenset(params["cert_verbs"]),
                                cert_types=frozenset())
        for course in courses:
            sql = query("learner_aggregates_course").sql % escape_params(
                bind({"tenant": "t", "course_id": course, **aggregate_params(refresher_rules)}), ctx)
            found = orjson.loads(session.query(sql, "JSONCompact").bytes())["data"]
            # JSONCompact gives 64-bit integers as strings
            aggregates = [(row[1], *(int(x) for x in row[2:8]), *row[8:11], [(m, int(t)) for m, t in row[11]],
                           *([int(x) for x in bucket] for bucket in row[12:]))
                          for row in found]
            state = aggregated_rows("t", course, [], aggregates, 7)
            values = ", ".join("(" + ", ".join(str(escape_param(v, ctx)) for v in row) + ")" for row in state)
            session.query(f"{query('learner_state_insert').sql} {values}")
        thresholds = SliceRefresher(Settings()).thresholds

        def write(version: int, previous: int) -> None:
            # What SliceRefresher.derive writes: the course from memory (loaded with learner_state_course), the
            # learner_course and engagement rows that changed (all of them the first time), time on task copied.
            for course in courses:
                load = query("learner_state_course").sql % escape_params({"tenant": "t", "course_id": course}, ctx)
                state = states.get(course) or CourseState.load(
                    "t", course, orjson.loads(session.query(load, "JSONCompact").bytes())["data"])
                states[course] = state
                derived = state.derive(clock, [], thresholds)
                written = dict(zip(ALL_TABLES, (derived.daily, derived.hourly, derived.learner_rows, derived.funnel,
                                                derived.summary, derived.at_risk, derived.time_on_task,
                                                derived.cohorts), strict=True))
                bound = escape_params(bind({**params, "course_id": course, "version": version,
                                            "previous": [(course, previous)]}), ctx)
                for table, rows in written.items():
                    if rows is None:
                        session.query(table.copy_sql() % bound)
                        continue
                    if rows:
                        values = ", ".join("(" + ", ".join(str(escape_param(v, ctx)) for v in ["t", *row, version])
                                           + ")" for row in rows)
                        session.query(f"{table.values_sql()} {values}")
                state.committed(derived, version)
            published = ", ".join(f"('t', {escape_param(c, ctx)}, {version}, {clock}, 0)" for c in courses)
            session.query(f"INSERT INTO analytics_slices VALUES {published}")

        states: dict[str, CourseState] = {}
        write(7, 0)  # every row from memory
        write(8, 7)  # nothing changed: no learner or engagement row written, time on task copied from version 7
        for table in ALL_TABLES:
            if table.cleanup_sql():  # what SliceRefresher.cleanup does: the garbage read, then the mutation
                garbage = orjson.loads(session.query(table.garbage_sql() % rendered, "JSONCompact").bytes())["data"]
                assert {int(v) for _, _, v in garbage} == {7}, table.table  # version 8 is the published one
                session.query(table.cleanup_sql() % {**rendered, **escape_params(
                    {"slices": [f"t\0{c}" for c in courses], "bounds": [8] * len(courses)}, ctx)}
                              + " SETTINGS mutations_sync = 1")
                assert session.query(f"SELECT count() FROM {table.table} WHERE version = 7", "CSV").bytes() == b"0\n"
            live = session.query(table.select_view_sql() % escape_params({"tenant": "t"}, ctx), "CSV").bytes()
            batch = session.query(f"SELECT * FROM ({query(table.query).sql % rendered}) ORDER BY "
                                  f"{', '.join(table.key)}", "CSV").bytes()
            assert live == batch and live, table.view
    finally:
        session.close()


def test_cli_imports_structures_and_marks_courses(two_workers: Pipeline, tmp_path) -> None:
    """``lrs courses import`` / ``show`` and ``lrs analytics refresh`` against the running pipeline."""
    import subprocess
    import sys

    from lrs.tools.demo.cohort import course_structure
    from tests.support import ROOT, settings_env

    pipeline = two_workers
    tenant, http = pipeline.new_tenant()
    cohort = generate_cohort(brand="cli", learners=5, courses=2, days=7, seed=1)
    path = tmp_path / "structure.json"
    path.write_bytes(orjson.dumps(course_structure(cohort)))
    env = settings_env(pipeline.settings)

    def lrs(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "lrs", *args], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    assert "declared 2 course(s)" in lrs("courses", "import", str(path), "--tenant", tenant)
    with http:
        declared = http.get("/api/courses/structure").json()["courses"]
        _post(http, cohort.statements)
    assert [len(c["modules"]) for c in declared] == [len(c.modules) for c in sorted(cohort.courses, key=lambda c: c.id)]
    assert "Welcome" in lrs("courses", "show", "--tenant", tenant)
    wait_until(lambda: pipeline.stored_count(tenant) >= len(cohort.statements), 60, what="statements stored")
    assert "marked 2 course(s)" in lrs("analytics", "refresh", "--tenant", tenant)
    wait_until(lambda: _differences(pipeline, tenant) == [], 60, interval=1, what="convergence")
