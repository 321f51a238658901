"""Analytics pure parts: markers, parameters, events, course structures, generated SQL (no services)."""

from __future__ import annotations

import json
import re
import uuid

import orjson
import pytest

from lrs.core.config import Settings
from lrs.core.store.queries import query
from lrs.service.courses import StructureError, structure_rows
from schemas import schema_path
from schemas.analytics.generate import render
from streams.analytics import (
    DAY_US,
    NEVER,
    certificate_pattern,
    learners_marker_value,
    marker_key,
    marker_value,
    parse_marker,
    parse_work,
    query_params,
    split_list,
)
from streams.dropoff import LEARNER_COURSE, at_risk_event, event_id, event_key
from streams.refresh import ALL_TABLES, LEARNERS_CHUNK, READ_STATEMENTS, SliceRefresher, merge_work, refresh_pause


def test_markers_round_trip_and_garbage_is_skipped() -> None:
    assert parse_marker(marker_value("acme", "https://c/x|y")) == ("acme", "https://c/x|y")
    assert marker_key("acme", "c1") == b"acme|c1"
    assert parse_marker(b"not json") is None
    assert parse_marker(None) is None
    assert parse_marker(b'{"tenant": "a"}') is None


def test_query_params_from_settings() -> None:
    settings = Settings(analytics_session_cap_s=600, analytics_at_risk_days=2, analytics_dropped_days=10,
                        analytics_certificate_verbs="", analytics_certificate_types="urn:t1, urn:t2")
    params = query_params(settings, "acme", ["c1"], 123)
    assert params["cap_us"] == 600_000_000 and params["at_risk_us"] == 2 * DAY_US
    assert params["dropped_us"] == 10 * DAY_US and params["clock_us"] == 123
    assert params["cert_verbs"] == [""]  # never an empty IN ()
    assert re.search(params["cert_pattern"], '{"definition":{"type":"urn:t2"}}')
    assert not re.search(params["cert_pattern"], '{"definition":{"type":"urn:t3"}}')
    assert split_list(" a, ,b ") == ["a", "b"]


def test_certificate_pattern_matches_nothing_without_types() -> None:
    assert certificate_pattern([]) == NEVER
    assert not re.search(NEVER, '"type":"anything"\n')
    assert re.search(certificate_pattern(["https://x/a.b"]), '"type":"https://x/a.b"')
    assert not re.search(certificate_pattern(["https://x/a.b"]), '"type":"https://x/aXb"')


def _change(status: str = "at_risk", last_seen_us: int = 1_790_000_000_000_000) -> tuple:
    return ("mbox:mailto:a@b.c", status, "started", last_seen_us, 300_000, "https://c/m2", 1_790_300_000_000_000)


def test_at_risk_event_id_is_stable_and_specific() -> None:
    first = at_risk_event("acme", "c1", _change(), clock="event", detected_us=1)
    replay = at_risk_event("acme", "c1", _change(), clock="event", detected_us=5_000_000)
    assert first["event_id"] == replay["event_id"] and first["detected_at"] != replay["detected_at"]
    assert uuid.UUID(first["event_id"]).version == 5
    assert event_id("acme", "c1", "mbox:mailto:a@b.c", "dropped", 1_790_000_000_000_000) != first["event_id"]
    later = at_risk_event("acme", "c1", _change(last_seen_us=1_790_000_000_000_001), clock="event", detected_us=1)
    assert later["event_id"] != first["event_id"]
    assert event_key(first) == b"acme|mbox:mailto:a@b.c"


def test_at_risk_event_follows_its_json_schema() -> None:
    schema = json.loads(schema_path("events", "at_risk.schema.json").read_text())
    event = orjson.loads(orjson.dumps(at_risk_event("acme", "c1", _change("dropped"), clock="wall", detected_us=5)))
    assert set(event) == set(schema["required"]) == set(schema["properties"])
    assert event["schema"] == schema["properties"]["schema"]["const"]
    assert event["type"] in schema["properties"]["type"]["enum"]
    assert event["status"] in schema["properties"]["status"]["enum"]
    assert event["clock"] in schema["properties"]["clock"]["enum"]
    assert event["last_seen"] == "2026-09-21T14:13:20.000Z" and isinstance(event["inactive_s"], int)


def test_structure_rows_default_positions_and_validation() -> None:
    rows = structure_rows("acme", {"courses": [{"course_id": "c", "name": "C", "modules": [
        {"module_id": "m1", "name": "One"}, {"module_id": "m2"}]}]}, 7)
    assert rows == [["acme", "c", 7, "m1", 1, "One", "C"], ["acme", "c", 7, "m2", 2, "", "C"]]
    for bad in ([], {"courses": "x"}, [{"course_id": "", "modules": [{"module_id": "m"}]}],
                [{"course_id": "c", "modules": []}], [{"course_id": "c", "modules": [{"module_id": "m"}] * 2}],
                [{"course_id": "c", "modules": [{"module_id": "m", "position": 0}]}]):
        with pytest.raises(StructureError):
            structure_rows("acme", bad, 1)


def test_slice_tables_write_rows_under_a_version() -> None:
    assert {t.view for t in ALL_TABLES} == {"engagement_daily", "engagement_hourly", "learner_course",
                                             "course_funnel", "course_summary", "cohort_retention", "at_risk_learners",
                                             "course_time_on_task"}
    sql = LEARNER_COURSE.values_sql()
    # learner_course is kept per learner; the view computes what moves with the clock for everyone.
    assert sql.startswith("INSERT INTO learner_course_rows (tenant, course_id, actor_ifi,")
    assert sql.endswith(", certified, present, version) VALUES") and "inactive_s" not in sql
    assert LEARNER_COURSE.cleanup_sql() == ""
    for table in ALL_TABLES:
        assert table.columns[:2] == ("tenant", "course_id") and table.key[0] == "tenant"
        assert "FROM statements FINAL" in query(table.query).sql  # the batch definition reads the raw table
        if table.kept_per_key:  # the newest row per key, only changed keys written: nothing to clean up
            assert table.values_sql().startswith(f"INSERT INTO {table.view}_rows (") and not table.cleanup_sql()
            assert table.values_sql().endswith(", present, version) VALUES")
        else:
            assert table.values_sql().startswith(f"INSERT INTO {table.view}_data (") and table.cleanup_sql()
    assert {t.view for t in ALL_TABLES if t.kept_per_key} == {"learner_course", "engagement_daily",
                                                              "engagement_hourly", "cohort_retention"}


def test_learner_markers_name_learners_and_merge_per_slice() -> None:
    assert parse_work(learners_marker_value("acme", "c1", ["b", "a"])) == ("acme", "c1", ("a", "b"))
    assert parse_work(marker_value("acme", "c1")) == ("acme", "c1", None)  # no list: every learner
    assert parse_work(learners_marker_value("acme", "c1", [])) == ("acme", "c1", ())  # derive again only
    assert parse_work(b'{"tenant": "a", "course_id": "c", "learners": 3}') is None
    assert parse_work(b"garbage") is None
    work = merge_work([("t", "c", ("a",)), ("t", "c", ("b",)), ("t", "d", ()), ("t", "e", ("x",)),
                       ("t", "e", None), ("t", "e", ("y",))])
    assert work == {("t", "c"): {"a", "b"}, ("t", "d"): set(), ("t", "e"): None}


def test_generated_queries_are_up_to_date() -> None:
    for name, text in render().items():
        assert schema_path("queries", name).read_text(encoding="utf-8") == text, (
            f"{name} is stale: run python -m schemas.analytics.generate")


def test_refresh_pause_bounds_the_refresh_share_of_time() -> None:
    # A round of 1 s at a 25 % share pauses 3 s: busy 1 s of every 4.
    assert refresh_pause(1.0, 0.25, 10.0) == pytest.approx(3.0)
    assert refresh_pause(1.0, 1.0, 10.0) == 0.0  # share 1: never pause
    assert refresh_pause(20.0, 0.25, 10.0) == 10.0  # a long round: the cap keeps markers from piling up
    assert refresh_pause(0.0, 0.3, 10.0) == 0.0


def test_bound_lists_are_cut_by_count_and_by_rendered_size() -> None:
    """A bound IN list goes into the query text (ClickHouse caps it at 256 KiB): (course, learner) pairs of long
    IRIs are cut by size, short ids by count, and every value is sent once, in order."""
    from clickhouse_driver.util.escape import escape_param

    from lrs.core.store.clickhouse import IN_CHUNK, _chunks

    short = [f"id-{i}" for i in range(2 * IN_CHUNK + 5)]
    assert [len(c) for c in _chunks(short)] == [IN_CHUNK, IN_CHUNK, 5]
    pairs = [("https://acme.example/courses/" + "c" * 200, f"mbox:mailto:{'l' * 150}{i}@example.com")
             for i in range(3000)]
    chunks = list(_chunks(pairs))
    assert [p for c in chunks for p in c] == pairs and len(chunks) > 2

    class Ctx:
        server_info = None
        settings: dict = {}

    assert all(len(escape_param(tuple(c), Ctx())) < 200_000 for c in chunks)


def test_a_rounds_learner_reads_are_bounded_by_their_statements() -> None:
    """One read of learner_aggregates brings at most READ_STATEMENTS statement times into the worker (a learner with
    more alone), weighing each learner by its history held in memory: the worker's memory per round stays bounded
    however long the histories grow."""
    from types import SimpleNamespace

    refresher = SliceRefresher(Settings())
    heavy = READ_STATEMENTS // 3
    held = {f"a{i}": SimpleNamespace(statements=heavy) for i in range(7)}
    held["huge"] = SimpleNamespace(statements=5 * READ_STATEMENTS)
    refresher.courses[("t", "c")] = SimpleNamespace(learners=held)  # type: ignore[assignment]
    pairs = [("c", f"a{i}") for i in range(7)] + [("c", "huge"), ("c", "new"), ("d", "unknown")]
    chunks = list(refresher._read_chunks("t", pairs))
    assert [pair for chunk in chunks for pair in chunk] == pairs  # every pair once, in order
    assert [len(c) for c in chunks] == [2, 2, 2, 1, 1, 2]  # 3 heavy learners would exceed the bound; huge alone
    new = [("c", f"n{i}") for i in range(LEARNERS_CHUNK + 5)]  # not held: weight 1, cut by the learner count
    assert [len(c) for c in refresher._read_chunks("t", new)] == [LEARNERS_CHUNK, 5]
