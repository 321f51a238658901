"""Every shipped SQL statement (migrations and named queries) runs on the 18.16 server and on chDB."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clickhouse_driver.util.escape import escape_param, escape_params

from lrs.core.store.clickhouse import ClickHouse, bind, external_tables, make_client, split_lists
from lrs.core.store.migrate import migrate_clickhouse
from lrs.core.store.queries import Query, all_queries, migrations
from lrs.core.store.queries import query as named_query
from tests.support import Pipeline

pytestmark = pytest.mark.integration


class _EscapeContext:
    """What clickhouse-driver's escaping reads from a client context (defaults are right for us)."""

    server_info = None
    settings: dict = {}


def render(query: Query) -> str:
    """The query text with example parameters (or example rows) written in, for chDB."""
    ctx = _EscapeContext()
    if query.is_insert_with_data:
        return f"{query.sql} {_values(query.example_rows)}"
    params, _ = split_lists(query, query.example_params)
    return query.sql % escape_params(bind(params), ctx) if params else query.sql


def run_on_chdb(session, query: Query) -> None:
    """Run ``query`` with its example inputs in a chDB session; its external tables (which chDB, in process,
    cannot be sent) are tables of the same name and shape, filled with the example values, for the query's time."""
    _, lists = split_lists(query, query.example_params)
    for name, value in lists.items():
        session.query(f"CREATE TABLE _{name} ({name} String) ENGINE = Memory")
        session.query(f"INSERT INTO _{name} VALUES {_values([[value]])}")
    try:
        session.query(render(query))
    finally:
        for name in lists:
            session.query(f"DROP TABLE IF EXISTS _{name}")


def _values(rows: list) -> str:
    """Rows written as a VALUES list (chDB takes no data blocks)."""
    ctx = _EscapeContext()
    return ", ".join("(" + ", ".join(str(escape_param(v, ctx)) for v in row) + ")" for row in rows)


@pytest.fixture(scope="module")
def chdb_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    chdb_session_mod = pytest.importorskip("chdb.session")
    session = chdb_session_mod.Session(str(Path(tmp_path_factory.mktemp("chdb"))))
    session.query("CREATE DATABASE IF NOT EXISTS lrs")
    session.query("USE lrs")
    yield session
    session.close()


def _ordered(queries: list[Query]) -> list[Query]:
    # Inserts first so that reads see rows (and DDL-like bookkeeping before everything). brand_acl_* are access
    # management (CREATE USER, ROW POLICY, GRANT with quoted-in names): neither engine here can run them;
    # test_brand_isolation.py parses them on chDB and tests their effect.
    queries = [q for q in queries if not q.name.startswith("brand_acl_")]
    return sorted(queries, key=lambda q: (not q.sql.upper().startswith("CREATE"), not q.is_insert_with_data, q.name))


def _migrate_chdb(session) -> None:
    for migration in migrations():
        for statement in migration.statements:
            session.query(statement)


def test_every_migration_and_query_runs_on_chdb(chdb_session) -> None:
    _migrate_chdb(chdb_session)
    for query in _ordered(all_queries()):
        run_on_chdb(chdb_session, query)
    # The example rows really arrived, so the reads above were not vacuous.
    assert chdb_session.query("SELECT count() FROM statements", "CSV").bytes().strip() != b"0"


def test_every_migration_and_query_runs_on_clickhouse_18(pipeline: Pipeline) -> None:
    # A scratch database: the queries' example rows must not reach the running pipeline's tables (an example
    # sink_offsets row told the LRS that the sink had passed offset 10 of partition 0, so a GET right after a POST
    # did not wait for its statement and answered 404 in whichever test ran next).
    scratch = f"lrs_sql_check_{uuid.uuid4().hex[:8]}"
    url = pipeline.settings.clickhouse_url
    head, _, tail = url.rpartition("/")
    query_string = tail.partition("?")[1] + tail.partition("?")[2]
    settings = pipeline.settings.model_copy(update={"clickhouse_url": f"{head}/{scratch}{query_string}"})
    assert settings.clickhouse_database == scratch
    report = migrate_clickhouse(settings)
    assert report.applied == [m.name for m in migrations()]
    again = migrate_clickhouse(settings)
    assert not again.applied, "migrations must be recorded and not re-applied"
    assert sorted(again.already) == [m.name for m in migrations()]
    client = make_client(settings)
    try:
        version = client.execute("SELECT version()")[0][0]
        assert version.startswith("18."), version
        for query in _ordered(all_queries()):
            if query.is_insert_with_data:
                client.execute(query.sql, query.example_rows)
            else:
                params, lists = split_lists(query, query.example_params)
                client.execute(query.sql, bind(params), external_tables=external_tables(lists))
        # The example rows really arrived, so the reads above were not vacuous.
        assert client.execute("SELECT count() FROM statements")[0][0] > 0
    finally:
        client.execute(f"DROP DATABASE IF EXISTS `{scratch}`")
        client.disconnect()
    live = make_client(pipeline.settings)
    try:  # nothing of the examples in the pipeline's own progress table
        assert live.execute("SELECT count() FROM sink_offsets WHERE updated_us = 1") == [(0,)]
    finally:
        live.disconnect()


def test_timestamp_helpers_round_trip() -> None:
    from lrs.core.util.timeparse import format_timestamp, parse_timestamp, timestamp_micros

    assert timestamp_micros("1970-01-01T00:00:01.5Z") == 1_500_000
    assert timestamp_micros("2026-01-01T01:00:00+01:00") == timestamp_micros("2026-01-01T00:00:00Z")
    assert parse_timestamp("2026-01-01T00:00:00.123456789Z").microsecond == 123456
    assert format_timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=dt.UTC)) == "2026-01-02T03:04:05.006Z"


def test_a_busy_connection_skips_the_ping_and_an_idle_one_pings(pipeline: Pipeline, monkeypatch) -> None:
    """clickhouse-driver pings before each query; ours only after PING_AFTER_IDLE_S without a packet, and a server
    restart is still noticed by the ping of an idle connection (the next query reconnects)."""
    from clickhouse_driver.connection import Connection

    from lrs.core.store import clickhouse as store

    pings = []
    original = Connection.ping
    monkeypatch.setattr(Connection, "ping", lambda self: pings.append(1) or original(self))
    monkeypatch.setattr(store, "PING_AFTER_IDLE_S", 0.5)
    client = make_client(pipeline.settings)
    try:
        for _ in range(5):
            assert client.execute("SELECT 1") == [(1,)]
        assert pings == []  # connected by the first query; the others follow within the idle bound
        time.sleep(0.6)
        assert client.execute("SELECT 2") == [(2,)]
        assert pings == [1]  # idle: pinged as the driver does
    finally:
        client.disconnect()


def _keyed_statement(tenant: str) -> list:
    """A statements row with keys of every kind but the StatementRef one: 2 agents (actor, authority), the verb,
    2 activities (object, parent), a registration."""
    from lrs.core.kafka.envelope import Envelope
    from streams.rows import statement_row

    stored = "2026-12-04T10:00:00.000Z"
    st = {"id": str(uuid.uuid4()), "actor": {"objectType": "Agent", "mbox": "mailto:learner@example.com"},
          "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
          "object": {"objectType": "Activity", "id": "http://example.com/module-1"},
          "context": {"registration": str(uuid.uuid4()),
                      "contextActivities": {"parent": [{"id": "http://example.com/course-1"}]}},
          "authority": {"objectType": "Agent", "mbox": "mailto:client@example.com"},
          "stored": stored, "timestamp": stored, "version": "1.0.0"}
    return statement_row(Envelope(tenant, st, "k"))


# Migration 042: each engine fires exactly one of the two views feeding each key table (none would lose the
# statement from filtered reads, both would count it twice).
EXPECTED_KEYS = [(1, 2), (2, 1), (3, 2), (4, 1)]  # (kind, rows): agents, verb, activities, registration
EXPECTED_HOURS = [(0, 1), (1, 2), (2, 1), (3, 2), (4, 1)]  # (kind, statements), kind 0 counting every statement
KEYS_SQL = ("SELECT kind, count() FROM statement_keys_by_month WHERE tenant = '{t}' GROUP BY kind ORDER BY kind")
HOURS_SQL = ("SELECT kind, toUInt64(sum(statements)) FROM statement_key_hours_by_month WHERE tenant = '{t}' "
             "GROUP BY kind ORDER BY kind")


def test_an_inserted_statement_gets_each_key_row_once_on_chdb(chdb_session) -> None:
    # A database of its own: chDB serves one data path per process, the module's session.
    chdb_session.query("CREATE DATABASE IF NOT EXISTS keys_once")
    chdb_session.query("USE keys_once")
    try:
        _migrate_chdb(chdb_session)
        chdb_session.query(f"{named_query('statements_insert').sql} {_values([_keyed_statement('keys-once')])}")

        def rows(sql: str) -> list[tuple[int, ...]]:
            text = chdb_session.query(sql.format(t="keys-once"), "CSV").bytes().decode()
            return [tuple(int(v) for v in line.split(",")) for line in text.split()]

        assert rows(KEYS_SQL) == EXPECTED_KEYS
        assert rows(HOURS_SQL) == EXPECTED_HOURS
    finally:
        chdb_session.query("USE lrs")


def test_an_inserted_statement_gets_each_key_row_once_on_clickhouse_18(pipeline: Pipeline) -> None:
    tenant = f"keys-once-{uuid.uuid4().hex[:8]}"
    store = ClickHouse(pipeline.settings, size=1)
    client = make_client(pipeline.settings)
    try:
        store.insert("statements_insert", [_keyed_statement(tenant)])
        assert client.execute(KEYS_SQL.format(t=tenant)) == EXPECTED_KEYS
        assert client.execute(HOURS_SQL.format(t=tenant)) == EXPECTED_HOURS
    finally:
        client.disconnect()
        store.close()


# CityHash64 takes a different path by length (0-16, 17-32, 33-64 and longer bytes); ids are UUIDs, tenants any.
KEY_CASES = [("acme", "0b7c5a2e-1c1d-4f0e-9a57-3f2d1e0c9b8a"), ("", ""), ("t", "x"), ("brand-ü", "Ünïcode-ïd"),
             ("tenant-of-seventeen", "a" * 17), ("b" * 40, "c" * 33), ("d" * 64, "e" * 65), ("f" * 200, "g" * 129)]
KEY_SQL = "SELECT toString(cityHash64({t}, {i}))"


def _expected_key(tenant: str, sid: str) -> int:
    from lrs.core.store.keys import statement_keys

    (key,) = statement_keys(tenant, [sid])
    return key


def _quoted(value: str) -> str:
    return escape_param(value, _EscapeContext())


def test_statement_keys_are_what_chdb_computes(chdb_session) -> None:
    for tenant, sid in KEY_CASES:
        got = chdb_session.query(KEY_SQL.format(t=_quoted(tenant), i=_quoted(sid)), "CSV").bytes().decode()
        assert int(got.strip().strip('"')) == _expected_key(tenant, sid), (tenant, sid)


def test_statement_keys_are_what_clickhouse_18_computes(pipeline: Pipeline) -> None:
    for tenant, sid in KEY_CASES:
        got = pipeline.query(KEY_SQL.format(t="%(t)s", i="%(i)s"), {"t": tenant, "i": sid})
        assert int(got[0][0]) == _expected_key(tenant, sid), (tenant, sid)
