"""Every ``lrs`` command's expected failures, run as the operator runs them (a child process): one line on stderr
naming the cause and the fix, the exit code of ``lrs/tools/cli_errors.py``, never a traceback (unless asked for).

With the stack down the settings point at free, closed loopback ports; the other failures (unknown tenant or key,
wrong ClickHouse password, Kafka unreachable, port in use) run against the real session pipeline.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from lrs.core.config import settings_env
from lrs.tools.cli_errors import ExitCode
from tests.support import ROOT, Pipeline, make_settings

pytestmark = pytest.mark.integration

COURSES = [{"course_id": "c1", "name": "Course", "modules": [{"module_id": "m1", "name": "Welcome"}]}]
AGENT = '{"mbox": "mailto:a@example.com"}'


def lrs(env: dict[str, str], *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lrs ARGS`` with ``env``."""
    return subprocess.run([sys.executable, "-m", "lrs", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def assert_one_line(done: subprocess.CompletedProcess[str], code: ExitCode, *fragments: str) -> str:
    """The run failed with ``code`` and exactly one stderr line containing every fragment; that line."""
    output = done.stdout + done.stderr
    assert done.returncode == code, f"exit {done.returncode}, expected {code!r}:\n{output}"
    assert "Traceback" not in output, output
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrs: error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def down(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """Environment of a stack that was never started (free ports, nothing listening), and a scratch dir."""
    scratch = tmp_path_factory.mktemp("stack-down")
    settings = make_settings(scratch / "state")
    env = settings_env(settings)
    env["LRS_DEBUG"] = "0"
    (scratch / "courses.json").write_bytes(orjson.dumps(COURSES))
    (scratch / "broken.json").write_text('[{"course_id": ')
    return env, scratch


CLICKHOUSE_DOWN = [
    ("credentials", "add", "--tenant", "x"),
    ("credentials", "list", "--tenant", "x"),
    ("credentials", "list", "--tenant", "x", "--json"),
    ("credentials", "rotate", "somekey"),
    ("credentials", "revoke", "somekey"),
    ("analytics", "refresh", "--tenant", "x"),
    ("courses", "import", "{scratch}/courses.json", "--tenant", "x"),
    ("courses", "show", "--tenant", "x"),
    ("courses", "rules", "--tenant", "x"),
    ("report", "--tenant", "x", "--out", "{scratch}/report"),
    ("erase", "--tenant", "x", "--agent", AGENT, "--wait", "0"),
]


@pytest.mark.parametrize("args", CLICKHOUSE_DOWN, ids=" ".join)
def test_commands_name_the_unreachable_clickhouse_and_the_fix(down: tuple[dict[str, str], Path],
                                                             args: tuple[str, ...]) -> None:
    env, scratch = down
    address = f"127.0.0.1:{env['LRS_CLICKHOUSE_TCP_PORT']}"
    done = lrs(env, *(a.replace("{scratch}", str(scratch)) for a in args))
    assert_one_line(done, ExitCode.CLICKHOUSE_UNREACHABLE, f"cannot reach ClickHouse at {address}",
                    "`lrs stack up`", "LRS_CLICKHOUSE_URL")


def test_worker_and_migrate_name_the_unreachable_kafka(down: tuple[dict[str, str], Path]) -> None:
    env, _ = down
    for command in ("worker", "migrate"):  # both check the broker first (migrate: before changing anything)
        assert_one_line(lrs(env, command, timeout=60), ExitCode.KAFKA_UNREACHABLE,
                        f"cannot reach Kafka at 127.0.0.1:{env['LRS_BROKER_PORT']}", "`lrs stack up`",
                        "LRS_KAFKA_BOOTSTRAP")


def test_bad_files_and_arguments_are_named_before_connecting(down: tuple[dict[str, str], Path]) -> None:
    env, scratch = down
    missing = scratch / "nope.json"
    assert_one_line(lrs(env, "courses", "import", str(missing), "--tenant", "x"), ExitCode.BAD_INPUT,
                    f"no such file: {missing}")
    assert_one_line(lrs(env, "courses", "import", str(scratch / "broken.json"), "--tenant", "x"),
                    ExitCode.BAD_INPUT, f"{scratch / 'broken.json'} is not valid JSON", "fix the file")
    assert_one_line(lrs(env, "erase", "--tenant", "x", "--agent", "{not json"), ExitCode.BAD_INPUT,
                    "agent is not valid JSON")
    bad_setting = {**env, "LRS_HTTP_PORT": "eighty"}
    assert_one_line(lrs(bad_setting, "migrate"), ExitCode.CONFIG, "LRS_HTTP_PORT='eighty'")


def test_usage_errors_keep_clicks_code(down: tuple[dict[str, str], Path]) -> None:
    env, _ = down
    done = lrs(env, "credentials", "list")
    assert done.returncode == ExitCode.USAGE and "--tenant" in done.stderr and "Traceback" not in done.stderr


def test_debug_shows_the_traceback_with_the_same_code(down: tuple[dict[str, str], Path]) -> None:
    env, _ = down
    for done in (lrs({**env, "LRS_DEBUG": "1"}, "courses", "show", "--tenant", "x"),
                 lrs(env, "--debug", "courses", "show", "--tenant", "x")):
        assert done.returncode == ExitCode.CLICKHOUSE_UNREACHABLE, done.stderr
        assert "Traceback" in done.stderr and "NetworkError" in done.stderr
        assert done.stderr.rstrip().splitlines()[-1].startswith("lrs: error: cannot reach ClickHouse")


def test_stack_status_json_with_the_stack_down(down: tuple[dict[str, str], Path]) -> None:
    env, _ = down
    done = lrs(env, "stack", "status", "--json")
    assert done.returncode == 0, done.stderr
    statuses = {s["name"]: s for s in json.loads(done.stdout)}
    assert set(statuses) == {"broker", "clickhouse"}
    assert all(s["running"] is False and s["pid"] is None and s["detail"] == "stopped" for s in statuses.values())
    assert statuses["broker"]["address"] == f"127.0.0.1:{env['LRS_BROKER_PORT']}"


def test_stack_up_names_a_taken_port(down: tuple[dict[str, str], Path]) -> None:
    env, _ = down
    port = int(env["LRS_BROKER_PORT"])
    holder = socket.socket()
    holder.bind(("127.0.0.1", port))
    holder.listen()
    try:
        done = lrs(env, "stack", "up")
    finally:
        holder.close()
    assert_one_line(done, ExitCode.PORT_IN_USE, f"port {port}", "LRS_BROKER_PORT")
    assert json.loads(lrs(env, "stack", "status", "--json").stdout)[0]["running"] is False  # nothing half-started


def test_stack_up_names_what_is_not_installed(down: tuple[dict[str, str], Path]) -> None:
    env, scratch = down
    empty = scratch / "no-kafka"
    empty.mkdir(exist_ok=True)
    assert_one_line(lrs({**env, "LRS_KAFKA_LIB_DIR": str(empty)}, "stack", "up"), ExitCode.NOT_INSTALLED,
                    f"not installed in {empty}", "scripts/setup.sh")
    no_java = {k: v for k, v in env.items() if k != "JAVA_HOME"}
    no_java["PATH"] = str(scratch)  # no java there; the interpreter is called by its full path
    assert_one_line(lrs(no_java, "stack", "up"), ExitCode.NOT_INSTALLED, "Java is not installed", "JAVA_HOME")


def test_stack_up_names_a_broker_that_cannot_start(down: tuple[dict[str, str], Path]) -> None:
    env, scratch = down
    broken = scratch / "broken-kafka"
    broken.mkdir(exist_ok=True)
    (broken / "kafka_2.13-9.9.9.jar").write_bytes(b"")  # looks installed, holds no classes
    line = assert_one_line(lrs({**env, "LRS_KAFKA_LIB_DIR": str(broken)}, "stack", "up"), ExitCode.STACK,
                           "formatting the Kafka log of node 1", "--debug")
    assert "StorageTool" in line  # the last line of java's output says what went wrong
    assert not any(s["running"] for s in json.loads(lrs(env, "stack", "status", "--json").stdout))


def test_doctor_on_a_stopped_stack(down: tuple[dict[str, str], Path]) -> None:
    env, _ = down
    done = lrs(env, "doctor", "--json")
    assert done.returncode == ExitCode.FAILED, done.stdout + done.stderr
    checks = {c["check"]: c for c in json.loads(done.stdout)}
    assert checks["kafka"]["status"] == "fail"
    assert f"cannot reach Kafka at 127.0.0.1:{env['LRS_BROKER_PORT']}" in checks["kafka"]["detail"]
    assert "lrs stack up" in checks["kafka"]["fix"] and "LRS_KAFKA_BOOTSTRAP" in checks["kafka"]["fix"]
    assert checks["clickhouse"]["status"] == "fail" and "LRS_CLICKHOUSE_URL" in checks["clickhouse"]["fix"]
    assert [checks[n]["status"] for n in ("migrations", "topics", "workers", "consumer lag")] == ["skip"] * 4
    assert checks["java"]["status"] == checks["kafka broker"]["status"] == "ok"
    assert checks["ports"]["status"] == "ok" and "free" in checks["ports"]["detail"]
    table = lrs(env, "doctor")
    assert table.returncode == ExitCode.FAILED and "what to do" in table.stdout and "Traceback" not in table.stdout


def test_doctor_on_a_stack_without_migrations_or_workers(tmp_path: Path) -> None:
    env = settings_env(make_settings(tmp_path / "state"))
    up = lrs(env, "stack", "up", timeout=120)
    assert up.returncode == 0, up.stdout + up.stderr
    try:
        done = lrs(env, "doctor", "--json")
        migrated = lrs(env, "migrate", timeout=120)
        after = lrs(env, "doctor", "--json")
    finally:
        lrs(env, "stack", "down", timeout=120)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    then = {c["check"]: c for c in json.loads(after.stdout)}
    assert after.returncode == ExitCode.FAILED and then["workers"]["status"] == "fail"  # still no worker
    assert then["migrations"]["status"] == then["topics"]["status"] == "ok"
    assert then["consumer lag"]["status"] == "ok" and "is empty" in then["consumer lag"]["detail"]
    assert done.returncode == ExitCode.FAILED, done.stdout + done.stderr
    checks = {c["check"]: c for c in json.loads(done.stdout)}
    assert checks["kafka"]["status"] == checks["clickhouse"]["status"] == checks["ports"]["status"] == "ok"
    assert checks["migrations"]["status"] == "fail" and checks["migrations"]["fix"] == "run `lrs migrate`"
    assert checks["topics"]["status"] == "fail" and "xapi.statements" in checks["topics"]["detail"]
    assert checks["workers"]["status"] == "fail" and "`lrs worker`" in checks["workers"]["fix"]
    assert checks["consumer lag"]["status"] == "skip" and "no topic xapi.statements" in checks["consumer lag"]["detail"]


# --- against the running pipeline ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(pipeline: Pipeline) -> dict[str, str]:
    """The session pipeline's environment."""
    return settings_env(pipeline.settings)


def test_doctor_on_a_healthy_pipeline(env: dict[str, str], pipeline: Pipeline) -> None:
    done = lrs(env, "doctor", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    checks = {c["check"]: c for c in json.loads(done.stdout)}
    assert not [c for c in checks.values() if c["status"] == "fail"], checks
    for name in ("java", "kafka broker", "clickhouse server", "ports", "kafka", "clickhouse", "migrations",
                 "topics", "workers"):
        assert checks[name]["status"] == "ok", checks[name]
    assert "ClickHouse 18.16" in checks["clickhouse"]["detail"]
    assert f"member(s) in {pipeline.settings.worker_app_id}" in checks["workers"]["detail"]
    assert checks["consumer lag"]["status"] in ("ok", "warn") and "behind" in checks["consumer lag"]["detail"]
    assert lrs(env, "doctor").returncode == 0


def test_unknown_tenant_and_key(env: dict[str, str]) -> None:
    unknown = "no-such-tenant-19"
    for args in (("credentials", "list", "--tenant", unknown), ("analytics", "refresh", "--tenant", unknown),
                 ("courses", "show", "--tenant", unknown), ("report", "--tenant", unknown),
                 ("erase", "--tenant", unknown, "--agent", AGENT, "--wait", "0")):
        assert_one_line(lrs(env, *args), ExitCode.NOT_FOUND, f"unknown tenant '{unknown}'",
                        f"lrs credentials add --tenant {unknown}")
    for verb in ("rotate", "revoke"):
        assert_one_line(lrs(env, "credentials", verb, "0000nokey"), ExitCode.NOT_FOUND,
                        "no credential with key 0000nokey")


def test_erase_that_is_not_applied_in_time(env: dict[str, str], pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant()
    http.close()
    # 10 ms: far less than a trip through Kafka, the worker and ClickHouse; the erasure stays queued.
    done = lrs(env, "erase", "--tenant", tenant, "--agent", '{"mbox": "mailto:late@example.com"}', "--wait", "0.01")
    assert "accepted" in done.stdout
    assert_one_line(done, ExitCode.TIMEOUT, "not applied within", "--wait")


def test_credentials_list_json(env: dict[str, str], pipeline: Pipeline) -> None:
    tenant, http = pipeline.new_tenant(scopes=("statements/read",))
    http.close()
    done = lrs(env, "credentials", "list", "--tenant", tenant, "--json")
    assert done.returncode == 0, done.stderr
    (key,) = json.loads(done.stdout)
    assert set(key) == {"key", "name", "scopes", "revoked"}
    assert key["scopes"] == ["statements/read"] and key["revoked"] is False


def test_courses_show_json_round_trips_an_import(env: dict[str, str], pipeline: Pipeline, tmp_path: Path) -> None:
    tenant, http = pipeline.new_tenant()
    http.close()
    path = tmp_path / "courses.json"
    path.write_bytes(orjson.dumps(COURSES))
    imported = lrs(env, "courses", "import", str(path), "--tenant", tenant)
    assert imported.returncode == 0, imported.stderr
    done = lrs(env, "courses", "show", "--tenant", tenant, "--json")
    assert done.returncode == 0, done.stderr
    (course,) = json.loads(done.stdout)
    assert (course["course_id"], course["name"]) == ("c1", "Course") and course["declared_us"] > 0
    assert course["modules"] == [{"module_id": "m1", "name": "Welcome", "position": 1}]


def test_wrong_clickhouse_credentials_and_missing_schema(env: dict[str, str], pipeline: Pipeline) -> None:
    port = pipeline.settings.clickhouse_tcp_port
    for user in ("nobody:secret", "default:wrong"):
        wrong = {**env, "LRS_CLICKHOUSE_URL": f"clickhouse://{user}@127.0.0.1:{port}/lrs"}
        assert_one_line(lrs(wrong, "courses", "show", "--tenant", "x"), ExitCode.AUTH,
                        f"refused user '{user.split(':')[0]}'", "LRS_CLICKHOUSE_URL")
    other_db = {**env, "LRS_CLICKHOUSE_URL": f"clickhouse://default:@127.0.0.1:{port}/never_migrated"}
    assert_one_line(lrs(other_db, "credentials", "list", "--tenant", "x"), ExitCode.NOT_MIGRATED,
                    "'never_migrated'", "lrs migrate")


def test_unreachable_kafka_is_named(env: dict[str, str], pipeline: Pipeline, tmp_path: Path) -> None:
    tenant, http = pipeline.new_tenant()
    http.close()
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    bootstrap = f"127.0.0.1:{closed.getsockname()[1]}"  # bound, not listening: connections are refused
    path = tmp_path / "courses.json"
    path.write_bytes(orjson.dumps(COURSES))
    no_kafka = {**env, "LRS_KAFKA_BOOTSTRAP": bootstrap, "LRS_PRODUCE_TIMEOUT_S": "2"}
    try:
        imported = lrs(no_kafka, "courses", "import", str(path), "--tenant", tenant)
        migrated = lrs(no_kafka, "migrate")
    finally:
        closed.close()
    for done in (imported, migrated):
        assert_one_line(done, ExitCode.KAFKA_UNREACHABLE, f"cannot reach Kafka at {bootstrap}", "`lrs stack up`",
                        "LRS_KAFKA_BOOTSTRAP")


def test_serve_names_a_taken_port(env: dict[str, str], pipeline: Pipeline) -> None:
    taken = pipeline.settings.http_port  # the session's LRS listens there
    assert_one_line(lrs({**env, "LRS_HTTP_PORT": str(taken)}, "serve"), ExitCode.PORT_IN_USE, f"port {taken}",
                    "LRS_HTTP_PORT")


def test_entry_point_is_main() -> None:
    """The installed ``lrs`` script runs ``lrs.tools.cli:main`` (the wrapper), not the bare Typer app."""
    import tomllib

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["lrs"] == "lrs.tools.cli:main"
    assert os.access(ROOT / "run", os.X_OK)
    done = subprocess.run([str(ROOT / "run"), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "set -euo" not in done.stdout and "./run test" in done.stdout
