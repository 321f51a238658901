"""``lrs doctor``: what the local or configured pipeline needs, checked one line at a time.

Each check gives a status (``ok``, ``warn``, ``fail``, or ``skip`` when what it needs already failed), a detail
and, unless ok, what to do. The installation checks (Java, the Kafka broker's jars, the ClickHouse server) only
fail when the configured endpoints are the embedded stack's; for a remote stack they are warnings.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lrs.core.config import Settings
from lrs.core.store.queries import migrations, query
from lrs.tools.cli_errors import ExitCode, clickhouse_address, explain

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
MIN_JAVA = 17
DISK_FAIL_BYTES = 1 << 30  # ClickHouse stops merging and Kafka stops appending on a full disk
DISK_WARN_BYTES = 5 << 30
LAG_WARN_MESSAGES = 10_000  # behind by more than this: workers do not keep up (or are not consuming)
_TIMEOUT_MS = 5000


@dataclass
class Check:
    """One line of the doctor's report."""

    check: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """The line as JSON-ready fields (``check``, ``status``, ``detail``, ``fix``)."""
        return asdict(self)


def is_local(settings: Settings) -> bool:
    """Whether the configured Kafka and ClickHouse endpoints are the embedded stack's (``lrs stack up``)."""
    # The same defaults as Settings._default_endpoints (not Settings(...): that would read LRS_* again).
    embedded_kafka = {f"127.0.0.1:{settings.broker_port + 2 * i}" for i in range(settings.brokers)}
    return (set(settings.kafka_bootstrap.split(",")) <= embedded_kafka
            and clickhouse_address(settings.clickhouse_url) == f"127.0.0.1:{settings.clickhouse_tcp_port}")


# --- installation ---------------------------------------------------------------------------------
def check_java(settings: Settings, local: bool) -> Check:
    """Java 17+ for the embedded Kafka broker."""
    from lrs.tools.stack.broker import java_binary
    from lrs.tools.stack.process import StackError

    bad = FAIL if local else WARN
    try:
        java = java_binary()
    except StackError as exc:
        return Check("java", bad, "not found", str(exc).split(": ", 1)[-1])
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    found = re.search(r'version "((\d+)(?:\.(\d+))?[^"]*)"', out.stderr + out.stdout)
    major = int(found.group(2)) if found else 0
    if major == 1 and found and found.group(3):  # "1.8.0_xx" style
        major = int(found.group(3))
    version = f"Java {found.group(1)}" if found else "unknown version"
    if major < MIN_JAVA:
        return Check("java", bad, f"{java}: {version}", f"install Java {MIN_JAVA} or newer (Kafka 4 needs it), "
                     "e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME")
    return Check("java", OK, f"{java}: {version}")


def check_kafka_jars(settings: Settings, local: bool) -> Check:
    """The Apache Kafka broker's class path fetched by scripts/setup.sh."""
    lib = Path(settings.kafka_lib_dir)
    jars = sorted(lib.glob("kafka_2.13-*.jar"))
    if not jars:
        return Check("kafka broker", FAIL if local else WARN, f"no kafka_2.13-*.jar in {lib}",
                     "run scripts/setup.sh (fetches the pinned broker from Maven Central), or set LRS_KAFKA_LIB_DIR")
    version = jars[-1].name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return Check("kafka broker", OK, f"Apache Kafka {version}, {len(list(lib.glob('*.jar')))} jars in {lib}")


def check_clickhouse_server(settings: Settings, local: bool) -> Check:
    """The ClickHouse server program the embedded stack runs, and its version."""
    from lrs.tools.stack.clickhouse import server_binary
    from lrs.tools.stack.process import StackError

    try:
        binary = server_binary()
    except StackError as exc:
        return Check("clickhouse server", FAIL if local else WARN, "not installed", str(exc).split(": ", 1)[-1])
    version = ""
    if shutil.which("dpkg-query"):  # 18.16's server has no --version option; Debian knows its package version
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", "clickhouse-server"], capture_output=True,
                             text=True, timeout=30)
        version = out.stdout.strip() if out.returncode == 0 else ""
    if not version:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30)
        version = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else "unknown"
    return Check("clickhouse server", OK, f"{binary} {version}")


def check_chdb(settings: Settings, local: bool) -> Check:
    """chDB, the in-process modern ClickHouse the tests check every shipped statement on."""
    if importlib.util.find_spec("chdb") is None:
        return Check("chdb", WARN, "not installed (only the modern-ClickHouse tests need it)",
                     "pip install -e '.[dev]' (or run scripts/setup.sh)")
    return Check("chdb", OK, f"chdb {importlib.metadata.version('chdb')} importable")


# --- local resources ------------------------------------------------------------------------------
def check_ports(settings: Settings, local: bool) -> Check:
    """Ports of the embedded stack: each free or held by the stack's own running service."""
    from lrs.tools.stack.stack import LocalStack

    if not local:
        return Check("ports", SKIP, "the configured services are not the embedded stack")
    statuses = LocalStack(settings).status()
    taken = [s for s in statuses if not s.running and "in use by another program" in s.detail]
    if taken:
        return Check("ports", FAIL, "; ".join(f"{s.name}: {s.detail}" for s in taken),
                     "stop that program, or move the stack with LRS_BROKER_PORT / LRS_CLICKHOUSE_TCP_PORT / "
                     "LRS_CLICKHOUSE_HTTP_PORT")
    running = [s for s in statuses if s.running]
    stuck = [s for s in running if s.detail == "running, not answering"]
    if stuck:
        return Check("ports", FAIL, "; ".join(f"{s.name} (pid {s.pid}) runs but does not answer on {s.address}"
                                              for s in stuck), "see its log under LRS_STATE_DIR/logs; "
                     "`lrs stack down && lrs stack up`")
    summary = ", ".join(f"{s.name} {s.address} ({'ours, ready' if s.running else 'free'})" for s in statuses
                        if s.name == "clickhouse" or s.name.startswith("broker"))
    return Check("ports", OK, summary)


def check_disk(settings: Settings, local: bool) -> Check:
    """Free space where the stack keeps its data (the state directory, or its nearest existing parent)."""
    path = Path(settings.state_dir).expanduser().resolve()
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    detail = f"{usage.free / (1 << 30):.1f} GiB free of {usage.total / (1 << 30):.1f} GiB at {path}"
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk space", FAIL, detail, "free space, or move LRS_STATE_DIR to a larger disk")
    if usage.free < DISK_WARN_BYTES:
        return Check("disk space", WARN, detail, "free space soon, or move LRS_STATE_DIR to a larger disk")
    return Check("disk space", OK, detail)


# --- services -------------------------------------------------------------------------------------
def _fix_of(exc: BaseException, settings: Settings) -> tuple[str, str]:
    """(cause, fix) of an exception, split from the CLI's one-line message at its last ': '."""
    code, message = explain(exc, settings)
    if code == ExitCode.INTERNAL:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", (
            "unexpected: run `lrs --debug doctor` for the traceback and report it")
    cause, _, fix = message.rpartition(": ")
    return (cause, fix) if cause else (message, "")


class _Kafka:
    """One admin client shared by the Kafka checks; ``error`` is set when the bootstrap does not answer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.admin = None
        self.error: BaseException | None = None

    def connect(self):  # noqa: ANN201 - KafkaAdminClient, imported lazily
        from kafka.admin import KafkaAdminClient

        from lrs.core.kafka.security import kafka_options

        if self.admin is None and self.error is None:
            try:
                self.admin = KafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap.split(","),
                                              client_id="lrs-doctor", request_timeout_ms=_TIMEOUT_MS,
                                              bootstrap_timeout_ms=_TIMEOUT_MS, **kafka_options(self.settings))
            except Exception as exc:  # noqa: BLE001 - reported as the check's result
                self.error = exc
        return self.admin

    def close(self) -> None:
        if self.admin is not None:
            self.admin.close()


def check_kafka(settings: Settings, kafka: _Kafka) -> Check:
    """The configured bootstrap servers answer; how many brokers the cluster has."""
    admin = kafka.connect()
    if admin is None:
        cause, fix = _fix_of(kafka.error, settings)
        return Check("kafka", FAIL, cause, fix)
    cluster = admin.describe_cluster()
    brokers = cluster.get("brokers") or []
    detail = f"{settings.kafka_bootstrap}: {len(brokers)} broker(s), cluster {cluster.get('cluster_id')}"
    if is_local(settings):
        from lrs.tools.stack.stack import LocalStack

        nodes = LocalStack(settings).brokers  # the size the local cluster was formatted with
        if len(brokers) < nodes:
            return Check("kafka", WARN, f"{detail}; the local cluster has {nodes} nodes",
                         "`lrs stack status` shows which node is down; `lrs stack up` starts it again")
    return Check("kafka", OK, detail)


def check_clickhouse(settings: Settings) -> tuple[Check, object | None]:
    """The configured ClickHouse answers with our credentials; its version. Also returns the client."""
    from lrs.core.store.clickhouse import make_client

    client = make_client(settings, database="")
    try:
        (version,), = client.execute(query("server_version").sql)
    except Exception as exc:  # noqa: BLE001 - reported as the check's result
        client.disconnect()
        cause, fix = _fix_of(exc, settings)
        return Check("clickhouse", FAIL, cause, fix), None
    user = urlsplit(settings.clickhouse_url).username or "default"
    return Check("clickhouse", OK, f"{clickhouse_address(settings.clickhouse_url)}: ClickHouse {version}, "
                 f"user {user}"), client


def check_migrations(settings: Settings, client) -> Check:  # noqa: ANN001 - clickhouse_driver Client
    """Every file of schemas/clickhouse is recorded in schema_migrations."""
    from lrs.core.store.clickhouse import make_client

    database = settings.clickhouse_database
    wanted = [m.name for m in migrations()]
    exists = client.execute(query("table_exists").sql, {"database": database, "table": "schema_migrations"})[0][0]
    if not exists:
        return Check("migrations", FAIL, f"database '{database}' has no schema_migrations table "
                     f"(0 of {len(wanted)} applied)", "run `lrs migrate`")
    # The same query `lrs migrate` reads, in the configured database (``client`` has none selected).
    in_database = make_client(settings)
    try:
        applied = {name for (name,) in in_database.execute(query("migrations_applied").sql)}
    finally:
        in_database.disconnect()
    missing = [name for name in wanted if name not in applied]
    if missing:
        return Check("migrations", FAIL, f"{len(missing)} of {len(wanted)} not applied: {', '.join(missing)}",
                     "run `lrs migrate`")
    return Check("migrations", OK, f"all {len(wanted)} applied (latest {wanted[-1]})")


def check_topics(settings: Settings, kafka: _Kafka) -> Check:
    """The topics of schemas/topics.yaml exist with at least their declared partitions."""
    from lrs.core.kafka.topics import topic_specs

    specs = topic_specs(settings)
    existing = {t.get("name") or t.get("topic"): len(t["partitions"]) for t in kafka.admin.describe_topics()
                if not t.get("error_code")}
    missing = [s.name for s in specs if s.name not in existing]
    if missing:
        return Check("topics", FAIL, f"missing: {', '.join(missing)}", "run `lrs migrate` (it creates them)")
    small = [f"{s.name} has {existing[s.name]} < {s.partitions}" for s in specs if existing[s.name] < s.partitions]
    if small:
        return Check("topics", WARN, "fewer partitions than declared: " + "; ".join(small),
                     "fewer partitions limit how many workers share the work; recreate the topics to change it")
    return Check("topics", OK, ", ".join(f"{s.name} ({existing[s.name]})" for s in specs))


def _no_group_yet(exc: BaseException) -> bool:
    """Whether a group call failed because no consumer ever used the cluster (no offsets topic, no coordinator)."""
    from kafka import errors

    return isinstance(exc, errors.CoordinatorNotAvailableError | errors.NotCoordinatorError
                      | errors.GroupIdNotFoundError)


def _group_members(settings: Settings, kafka: _Kafka) -> tuple[str, list[dict]]:
    try:
        group = kafka.admin.describe_groups([settings.worker_app_id])[settings.worker_app_id]
    except Exception as exc:
        if _no_group_yet(exc):
            return "never joined", []
        raise
    return str(group.get("group_state") or group.get("state") or "?"), list(group.get("members") or [])


def check_workers(settings: Settings, kafka: _Kafka) -> Check:
    """Stream workers are members of the consumer group (settings.worker_app_id)."""
    state, members = _group_members(settings, kafka)
    group = settings.worker_app_id
    if not members:
        return Check("workers", FAIL, f"no member in consumer group {group} (state {state}): nothing is stored",
                     "start workers: `lrs worker` (several share the partitions)")
    hosts = sorted({str(m.get("client_host", "")).lstrip("/") for m in members})
    return Check("workers", OK, f"{len(members)} member(s) in {group} ({state}) from {', '.join(hosts)}")


def check_lag(settings: Settings, kafka: _Kafka) -> Check:
    """Messages the group has not committed yet, per topic (committed offsets against the end offsets)."""
    from kafka.admin import OffsetSpec

    group = settings.worker_app_id
    try:
        committed = kafka.admin.list_group_offsets({group: None}).get(group, {})
    except Exception as exc:
        if not _no_group_yet(exc):
            raise
        committed = {}
    if not committed:
        from kafka import TopicPartition

        topic = settings.statements_topic
        (described,) = kafka.admin.describe_topics([topic])
        if described.get("error_code") or not described.get("partitions"):
            return Check("consumer lag", SKIP, f"no topic {topic} yet (see the topics line)")
        parts = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
        waiting = sum(o.offset for o in kafka.admin.list_partition_offsets(
            {tp: OffsetSpec.LATEST for tp in parts}).values())
        if waiting == 0:
            return Check("consumer lag", OK, f"nothing to consume yet ({topic} is empty)")
        return Check("consumer lag", WARN, f"{group} has committed no offsets while {topic} holds {waiting} "
                     "message(s)", "start workers (`lrs worker`); they commit after their first stored batch")
    ends = kafka.admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in committed})
    lag: dict[str, int] = {}
    for tp, meta in committed.items():
        if meta.offset >= 0:
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, ends[tp].offset - meta.offset)
    total = sum(lag.values())
    detail = f"{total} message(s) behind: " + ", ".join(f"{t} {n}" for t, n in sorted(lag.items()))
    if total > LAG_WARN_MESSAGES:
        return Check("consumer lag", WARN, detail, "workers do not keep up: start more `lrs worker` processes "
                     "(up to the partition count) or check their logs and ClickHouse")
    return Check("consumer lag", OK, detail)


def run_checks(settings: Settings, progress: Callable[[str], None] | None = None) -> list[Check]:
    """Every check, in order; a check whose service failed is ``skip`` for those that need it."""
    local = is_local(settings)
    checks: list[Check] = []

    def run(name: str, fn: Callable[[], Check]) -> Check:
        if progress:
            progress(name)
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - a check that breaks is a failing line, not a crash
            cause, fix = _fix_of(exc, settings)
            result = Check(name, FAIL, cause, fix)
        checks.append(result)
        return result

    for name, fn in (("java", check_java), ("kafka broker", check_kafka_jars),
                     ("clickhouse server", check_clickhouse_server), ("chdb", check_chdb), ("ports", check_ports),
                     ("disk space", check_disk)):
        run(name, lambda fn=fn: fn(settings, local))

    kafka = _Kafka(settings)
    try:
        kafka_ok = run("kafka", lambda: check_kafka(settings, kafka)).status == OK
        holder: list[object] = []

        def clickhouse() -> Check:
            result, client = check_clickhouse(settings)
            holder.append(client)
            return result

        clickhouse_ok = run("clickhouse", clickhouse).status == OK
        client = holder[0] if holder else None
        try:
            if clickhouse_ok:
                run("migrations", lambda: check_migrations(settings, client))
            else:
                checks.append(Check("migrations", SKIP, "needs the clickhouse check to pass"))
        finally:
            if client is not None:
                client.disconnect()
        for name, fn in (("topics", check_topics), ("workers", check_workers), ("consumer lag", check_lag)):
            if kafka_ok:
                run(name, lambda fn=fn: fn(settings, kafka))
            else:
                checks.append(Check(name, SKIP, "needs the kafka check to pass"))
    finally:
        kafka.close()
    return checks
