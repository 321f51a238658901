"""Pure parts of the benchmark suite: statistics, report rows, table and JSON shape, macros, profiles."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import orjson
import pytest
from rich.console import Console

from lrs.tools.bench import profile
from lrs.tools.bench.cli import options_from, parser
from lrs.tools.bench.load import FreshBodies, make_bodies
from lrs.tools.bench.report import (
    Result,
    Target,
    build_document,
    format_value,
    markdown_table,
    render_table,
    write_json,
)
from lrs.tools.bench.stats import growth, percentile, rate, ratio, summarize
from lrs.tools.report.grafana import expand_grafana


def test_percentile_interpolates_linearly_like_numpy() -> None:
    values = [15, 20, 35, 40, 50]
    assert percentile(values, 0) == 15
    assert percentile(values, 100) == 50
    assert percentile(values, 50) == 35
    assert percentile(values, 40) == pytest.approx(29.0)  # numpy.percentile(values, 40) == 29.0
    assert percentile(values, 99) == pytest.approx(49.6)
    assert percentile([7.0], 99) == 7.0
    assert percentile(list(reversed(values)), 50) == 35  # order does not matter


def test_percentile_edge_cases() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_summarize_and_rates() -> None:
    s = summarize([float(v) for v in range(1, 101)])
    assert s.count == 100
    assert s.p50 == pytest.approx(50.5)
    assert s.p99 == pytest.approx(99.01)
    assert s.max == 100 and s.mean == pytest.approx(50.5)
    assert summarize([]).count == 0 and math.isnan(summarize([]).p99)
    assert s.as_dict()["p99"] == 99.01
    assert rate(100, 2.0) == 50 and rate(5, 0) == 0
    assert ratio(30, 10) == 3 and ratio(1, 0) is None and ratio(None, 1) is None


def test_growth_skips_the_warm_up() -> None:
    assert growth([50, 100, 100, 100, 100, 100, 100, 100, 100, 110], warmup_fraction=0.1) == pytest.approx(0.1)
    assert math.isnan(growth([1.0]))


def test_targets_on_values_and_ratios() -> None:
    rate_row = Result("ingest.batch100.rate", "batched", "statements/s", 12_000, target=Target(">=", 10_000))
    assert rate_row.met is True
    side = Result("ralph.batch100.rate", "side", "statements/s", 5_000, ralph=1_000,
                  target=Target(">=", 20, applies_to="ratio"))
    assert side.ratio == 5 and side.met is False
    latency = Result("q", "dash", "ms", 250.0, target=Target("<", 200))
    assert latency.met is False
    assert Result("x", "no target", "ms", 1.0).met is None
    assert Result("y", "nothing measured", "ms", float("nan"), target=Target("<", 200)).met is None
    assert side.target is not None and side.target.describe("statements/s") == ">= 20x Ralph"


def test_format_value() -> None:
    assert format_value(12345.6, "statements/s") == "12,346 statements/s"
    assert format_value(85.24, "ms") == "85.2 ms"
    assert format_value(1234.0, "ms") == "1,234 ms"
    assert format_value(None, "ms") == "-"
    assert format_value(4.12, "%") == "+4.1 %"


def _rows() -> list[Result]:
    return [
        Result("ingest.batch100.rate", "batched POST x100", "statements/s", 12_000.0, target=Target(">=", 10_000)),
        Result("ralph.batch100.rate", "side by side x100", "statements/s", 6_000.0, ralph=1_500.0,
               target=Target(">=", 20, applies_to="ratio"), details={"ralph_version": "5.1.0"}),
        Result("queries.more.p99", "GET more pages", "ms", 42.0),
    ]


def test_table_has_the_agreed_columns_and_one_row_per_result() -> None:
    table = render_table(_rows())
    assert [c.header for c in table.columns] == ["metric", "ours", "Ralph", "ratio", "target", "met?"]
    assert table.row_count == 3
    console = Console(width=200, record=True)
    console.print(table)
    text = console.export_text()
    assert "4.0x" in text and ">= 20x Ralph" in text and "12,000 statements/s" in text
    markdown = markdown_table(_rows())
    assert markdown.splitlines()[0] == "| metric | ours | Ralph | ratio | target | met? |"
    assert len(markdown.splitlines()) == 2 + 3


def test_json_document_shape(tmp_path) -> None:
    doc = build_document(_rows(), machine={"cores": 2}, config={"ingest_statements": 10}, started_at="a",
                         finished_at="b", duration_s=12.345, errors=["x: failed"], extra={"markdown": "m"})
    paths = [tmp_path / "one" / "results.json", tmp_path / "last.json"]
    write_json(doc, paths)
    loaded = json.loads(paths[0].read_text())
    assert loaded == json.loads(paths[1].read_text())
    assert loaded["schema"] == 2
    assert set(loaded) >= {"started_at", "finished_at", "duration_s", "machine", "config", "results", "summary",
                           "errors"}
    first = loaded["results"][0]
    assert set(first) == {"key", "metric", "unit", "ours", "ralph", "ratio", "target", "met", "note", "samples",
                          "insufficient", "details"}
    assert first["target"] == {"op": ">=", "value": 10_000, "applies_to": "ours", "text": ">= 10,000 statements/s"}
    side = loaded["results"][1]
    assert side["ratio"] == 4.0 and side["met"] is False
    assert loaded["summary"] == {"targets": 2, "met": 1, "unmet": ["ralph.batch100.rate"]}
    assert loaded["duration_s"] == 12.3


def _expand(sql: str, variables: dict[str, str], from_s: int, to_s: int) -> str:
    return expand_grafana(sql, start=datetime.fromtimestamp(from_s, UTC), end=datetime.fromtimestamp(to_s, UTC),
                          interval_s=3600, variables=variables)


def test_macros_expand_with_nested_parentheses() -> None:
    sql = ("SELECT count() FROM statements WHERE tenant = '${tenant}' AND "
           "$__timeFilter(toDateTime(intDiv(stored_us, 1000000))) AND x < $__toTime")
    out = _expand(sql, {"tenant": "acme"}, 100, 200)
    assert "$" not in out
    assert ("toDateTime(intDiv(stored_us, 1000000)) >= toDateTime(100) AND "
            "toDateTime(intDiv(stored_us, 1000000)) <= toDateTime(200)") in out
    assert "tenant = 'acme'" in out and out.endswith("x < toDateTime(200)")
    with pytest.raises(ValueError, match="unbalanced"):
        _expand("SELECT 1 WHERE $__timeFilter(toDateTime(t)", {}, 100, 200)


def test_dashboard_variables_are_quoted_or_raw() -> None:
    sql = ("SELECT 1 WHERE tenant = ${tenant:sqlstring} AND actor_ifi = ${learner:sqlstring} AND gap > "
           "${session_cap_s} * 1000000 AND $__dateFilter(day) GROUP BY intDiv(t, $__interval_s)")
    out = _expand(sql, {"tenant": "acme", "learner": "mbox:mailto:o'neil@x.example", "session_cap_s": "1800"},
                  86400, 2 * 86400)
    assert "tenant = 'acme'" in out and "actor_ifi = 'mbox:mailto:o''neil@x.example'" in out
    assert "gap > 1800 * 1000000" in out and "day >= toDate('1970-01-02') AND day <= toDate('1970-01-03')" in out
    assert "intDiv(t, 3600)" in out


def test_bench_times_every_clickhouse_panel_of_the_generated_dashboards() -> None:
    """The bench reads the panels from the generator (not dashboards/json): same panels, fully expanded."""
    from lrs.tools.bench.phases.dashboards import dashboard_queries
    from lrs.tools.report.dashboards import DASHBOARDS

    queries = dashboard_queries({"tenant": "t1", "course": "https://example.com/c", "learner": "mbox:mailto:a@b"},
                                1_700_000_000, 1_700_600_000)
    expected = sorted(f"{d.file.removesuffix('.json')}: {p.title}" for d in DASHBOARDS for p in d.panels if p.query)
    assert sorted(name for name, _ in queries) == expected
    for name, sql in queries:
        assert "$" not in sql and "%(" not in sql, name
    by_name = dict(queries)
    assert "learner: Sessions" in by_name and "1800" in by_name["learner: Sessions"]  # the constant's default
    assert "('t1')" in by_name["operator: Last statement received per tenant"]  # multi-value tenant


def test_phases_keep_their_order_and_names() -> None:
    from lrs.tools.bench.suite import PHASES

    assert PHASES == ("ingest", "freshness", "ralph", "stream", "queries", "soak")


def test_bodies_are_serialized_with_their_ids() -> None:
    statements = [{"id": f"00000000-0000-4000-8000-00000000000{i}", "actor": {}} for i in range(5)]
    batched = make_bodies(statements, 2)
    assert [b.statements for b in batched] == [2, 2, 1]
    assert [s["id"] for s in orjson.loads(batched[0].data)] == list(batched[0].ids)
    single = make_bodies(statements, 1)
    assert isinstance(orjson.loads(single[0].data), dict)


def test_fresh_bodies_are_deterministic_and_never_repeat_ids() -> None:
    templates = [{"id": str(i), "verb": {"id": "v"}} for i in range(10)]
    a, b = FreshBodies(templates, 3, salt="t1"), FreshBodies(templates, 3, salt="t1")
    assert a(0) == b(0)
    ids = [i for n in range(20) for i in a(n).ids]
    assert len(ids) == len(set(ids)) == 60
    assert FreshBodies(templates, 3, salt="t2")(0).ids != a(0).ids


def test_profile_summary_from_collapsed_stacks() -> None:
    raw = [
        'process 1:"lrs serve";main (uvicorn/main.py:1);post_statements (lrs/service/routes/statements.py:9);'
        "validate_statements (lrs/core/xapi/validate.py:5) 30",
        "main (uvicorn/main.py:1);post_statements (lrs/service/routes/statements.py:9);"
        "send (kafka/producer/kafka.py:3);wait (threading.py:5) 10",
        "main (uvicorn/main.py:1);run (asyncio/events.py:2) 10",
        "not a stack line",
    ]
    summary = profile.summarize(profile.parse_raw(raw))
    assert summary["samples"] == 50
    assert summary["categories_pct"]["xAPI validation (lrs/core/xapi)"] == 60.0
    assert summary["categories_pct"]["Kafka produce (kafka-python)"] == 20.0  # threading under it is not generic
    assert summary["categories_pct"]["HTTP server (uvicorn/starlette/fastapi)"] == 20.0
    assert summary["lrs_functions_inclusive_pct"]["post_statements (lrs/service/routes/statements.py:9)"] == 80.0


def test_cli_options() -> None:
    quick = options_from(parser().parse_args(["--quick", "--only", "ingest,queries"]))
    assert quick.only == ("ingest", "queries") and quick.query_rows < 100_000
    full = options_from(parser().parse_args(["--query-rows", "10000000", "--soak-minutes", "30"]))
    assert full.query_rows == 10_000_000 and full.soak_minutes == 30
    with pytest.raises(SystemExit):
        options_from(parser().parse_args(["--only", "nope"]))
    assert quick.ingest_repeats == 1 and full.ingest_repeats == 3
    assert options_from(parser().parse_args(["--ingest-repeats", "5"])).ingest_repeats == 5


def test_the_median_run_is_reported_whole() -> None:
    from lrs.tools.bench.stats import median_run

    runs = [{"stored": 9_000, "cpu": 210}, {"stored": 7_000, "cpu": 250}, {"stored": 8_000, "cpu": 190}]
    assert median_run(runs, "stored") == {"stored": 8_000, "cpu": 190}  # its own CPU, not the median CPU
    assert median_run(runs[:2], "stored") == {"stored": 7_000, "cpu": 250}  # even count: the lower middle
    assert median_run(runs[:1], "stored") is runs[0]
    with pytest.raises(ValueError):
        median_run([], "stored")


def test_late_growth_sees_a_leak_but_not_a_plateau() -> None:
    from lrs.tools.bench.stats import late_growth

    plateau = [100, 150, 200, 250] + [280, 282, 279, 281] * 3  # fills up in the first quarter, then level
    assert abs(late_growth(plateau)) < 0.01
    leak = [100 + 10 * i for i in range(16)]  # grows all along
    assert late_growth(leak) == pytest.approx((235 - 155) / 155)
    swinging = [1000, 1400, 1100, 1500] * 4  # merges and caches swing around a level
    assert late_growth(swinging) == pytest.approx(0.0)
    assert math.isnan(late_growth([1, 2, 3]))


def test_reference_results_are_written_only_from_a_checkout() -> None:
    """From this checkout the root is found; from an installed wheel (site-packages) there is none."""
    from pathlib import Path

    from lrs.tools.bench import suite

    assert suite.checkout_root() == Path(__file__).resolve().parents[2]
    assert "ROOT" not in vars(suite)  # nothing else may lean on the checkout


def test_clickhouse_cpu_split_scales_the_server_to_the_query_window() -> None:
    from lrs.tools.bench.monitor import clickhouse_cpu_split

    class Client:
        def __init__(self) -> None:
            self.asked: list = []

        def execute(self, sql: str, params: dict | None = None) -> list[tuple]:
            self.asked.append((sql, params))
            if sql.startswith("SYSTEM"):
                return []
            if "system.part_log" in sql:
                return [("lrs", "statements", 4, 900, 12_000, 3_000_000)]
            return [("INSERT INTO statements (tenant", 10, 3_000_000, 0, 5000), ("SELECT DISTINCT", 50, 1_000_000,
                                                                                  90_000, 0)]

    client = Client()
    split = clickhouse_cpu_split(client, 100.2, 122.0, server_cpu_s=11.0)
    assert client.asked[0][0] == "SYSTEM FLUSH LOGS" and client.asked[1][1] == {"start": 101, "end": 122}
    # 21 whole seconds of a 21.8 s run: the server's 11 s scaled to them; the queries' 4 s taken out.
    assert split["window_s"] == 21 and split["queries_cpu_s"] == 4.0
    assert split["server_cpu_s"] == round(11.0 * 21 / 21.8, 2) and split["background_cpu_s"] == round(
        11.0 * 21 / 21.8 - 4.0, 2)
    assert split["by_query"][0] == {"query": "INSERT INTO statements (tenant", "count": 10, "cpu_ms": 3000,
                                    "read_rows": 0, "written_rows": 5000}
    assert client.asked[2][1] == {"start": 101, "end": 122}  # the merges of the same window
    assert split["merges_by_table"] == [{"table": "lrs.statements", "merges": 4, "ms": 900, "rows": 12_000,
                                         "bytes": 3_000_000}]


def test_the_freshness_probe_takes_a_sample_s_course_from_its_body_as_the_sink_maps_it() -> None:
    from lrs.core.kafka.envelope import Envelope
    from lrs.tools.bench import corpus
    from lrs.tools.bench.phases.freshness import sample_courses
    from streams.rows import COL, statement_row

    templates = corpus.take(300, seed=3)
    body = FreshBodies(templates, 100, salt="probe")(0)
    sent = orjson.loads(body.data)
    sampled = [body.ids[5], body.ids[50]]
    courses = sample_courses(body, sampled)
    by_id = {s["id"]: s for s in sent}
    # The sink's row builder (default mapping rules) writes the same course_id.
    for statement_id in sampled:
        row = statement_row(Envelope("t", {**by_id[statement_id], "stored": "2026-12-03T00:00:00Z"}))
        assert courses[statement_id] == row[COL["course_id"]]
    assert set(courses) == set(sampled) and any(courses.values())
    single = make_bodies(templates[:1], 1)[0]  # a single statement object, not an array
    expected = statement_row(Envelope("t", {**templates[0], "stored": "2026-12-03T00:00:00Z"}))[COL["course_id"]]
    assert sample_courses(single, [single.ids[0]]) == {single.ids[0]: expected}


def test_cpu_meter_counts_a_run_until_its_processes_are_idle_and_not_the_idle_tail() -> None:
    """A process that goes on working 1.5 s after the run (like ClickHouse's merges) is charged to the run; the
    idle seconds the meter waits to see that are not."""
    import subprocess
    import sys
    import time

    from lrs.tools.bench.monitor import CpuMeter

    busy = subprocess.Popen([sys.executable, "-c",
                             "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass\ntime.sleep(30)"])
    try:
        with CpuMeter(lambda: {"server": busy.pid}) as cpu:
            started = time.monotonic()
            settled = cpu.settle(interval_s=0.25, quiet_intervals=4, max_s=10)
            waited = time.monotonic() - started
        assert settled is not None and 1.0 <= settled <= 2.5, settled
        assert waited >= settled + 1.0  # it watched four idle intervals before deciding
        assert 1.0 <= cpu.used_s["server"] <= 1.9, cpu.used_s  # the busy 1.5 s, all of it
        assert cpu.wall_s <= settled + 0.5  # the window ends where the work ended
        with CpuMeter(lambda: {"server": busy.pid}) as never:
            assert never.settle(quiet_cores=-1, interval_s=0.1, max_s=0.5) is None  # never idle: bounded
    finally:
        busy.kill()
        busy.wait()


def test_cpu_meter_tells_the_kernels_share_and_the_fresh_pages_a_process_touched() -> None:
    """A process that fills 256 MiB of new memory makes the kernel hand out (and zero) 65,536 pages: the meter
    counts them as page faults and the kernel's time as system CPU, apart from the process's own."""
    import subprocess
    import sys

    from lrs.tools.bench.monitor import CpuMeter

    child = subprocess.Popen([sys.executable, "-c", "import sys\nsys.stdin.readline()\n"
                              "b = bytearray(256 * 2**20)\nb[::4096] = b'x' * (len(b) // 4096)\nprint(1, flush=True)\n"
                              "sys.stdin.readline()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with CpuMeter(lambda: {"server": child.pid}) as cpu:
            child.stdin.write("go\n")
            child.stdin.flush()
            assert child.stdout.readline().strip() == "1"  # the memory is filled
        report = cpu.report(1000)["processes"]["server"]
        assert cpu.page_faults["server"] >= 60_000, cpu.page_faults
        assert report["page_faults_per_1000_statements"] == cpu.page_faults["server"]
        assert 0 < cpu.system_s["server"] <= cpu.used_s["server"], (cpu.system_s, cpu.used_s)
    finally:
        child.kill()
        child.wait()


def test_worker_state_reads_a_workers_prometheus_page() -> None:
    # The page as prometheus_client renders it, from metrics named as streams/metrics.py names them.
    from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

    from lrs.tools.bench.monitor import worker_state

    registry = CollectorRegistry()
    Gauge("lrs_worker_sink_queued_bytes", "intake", registry=registry).set(4096)
    rounds = Histogram("lrs_worker_analytics_round_seconds", "rounds", ["step"], registry=registry)
    rounds.labels(step="round").observe(2.0)
    rounds.labels(step="round").observe(4.0)
    rounds.labels(step="learners").observe(100.0)  # a step of a round, not a round
    Counter("lrs_worker_analytics_paused_seconds_total", "paused", registry=registry).inc(7.5)
    state = worker_state(generate_latest(registry).decode())
    assert state == {"intake_bytes": 4096.0, "rounds": 2.0, "round_s": 6.0, "paused_s": 7.5}


def test_worker_state_reads_the_metrics_the_worker_has() -> None:
    # A renamed worker metric would read as 0 in the soak's row: the names must be those streams/metrics.py serves.
    from prometheus_client import REGISTRY, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from lrs.tools.bench.monitor import INTAKE, PAUSED, ROUNDS
    from streams import metrics  # noqa: F401  (registers the worker's metrics)

    served = {family.name for family in text_string_to_metric_families(generate_latest(REGISTRY).decode())}
    assert {INTAKE, ROUNDS, PAUSED.removesuffix("_total")} <= served


def test_quarters_tell_when_the_sink_fell_behind_and_the_rounds_grew() -> None:
    from lrs.tools.bench.monitor import quarters

    limit = 1000
    samples = []
    for i in range(9):  # 8 intervals: 2 per quarter; rounds grow, the intake fills in the last quarter
        samples.append((float(i), {"intake_bytes": 900.0 if i >= 7 else 100.0, "rounds": 10.0 * i,
                                   "round_s": float(sum(range(i + 1)) * 10), "paused_s": 5.0 * max(0, i - 6)}))
    q = quarters(samples, limit)
    assert [x["behind_share"] for x in q] == [0.0, 0.0, 0.0, 1.0]
    assert [x["rounds"] for x in q] == [20, 20, 20, 20]
    assert [x["mean_round_s"] for x in q] == [1.5, 3.5, 5.5, 7.5]
    assert [x["paused_s"] for x in q] == [0.0, 0.0, 0.0, 10.0]
    assert quarters(samples[:1], limit) == []
