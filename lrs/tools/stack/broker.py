"""The embedded Kafka broker: Apache Kafka (KRaft) from Maven Central, its log on disk, loopback only.

``scripts/setup.sh`` copies the pinned broker and its run-time dependencies (``deploy/kafka-broker/pom.xml``)
into ``settings.kafka_lib_dir``. Each node runs ``kafka.Kafka`` as broker and controller at once; with
three nodes (``lrs stack up --brokers 3``) they form one KRaft quorum (replication 3, ``min.insync.replicas`` 2,
unclean leader election off), so an acknowledged write survives the loss of any one node.

Node ``i`` (1-based) listens for clients on ``broker_port + 2*(i-1)`` and for its controller quorum on the
port after it. Its configuration and log live in ``<state_dir>/kafka/node-i/``; the storage is formatted
(``kafka.tools.StorageTool``) on the first start only, so the log survives restarts and crashes.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import uuid
from pathlib import Path
from shutil import which

from lrs.core.config import Settings
from lrs.tools.stack.process import StackError

PORT_SETTING = "broker_port"
# Small enough for a 2-core laptop next to ClickHouse and the Python processes; the broker keeps its data in
# the page cache, not on the heap. Sized and touched up front (-Xms = -Xmx, as Kafka's own start script and
# docker-compose.yml do, plus AlwaysPreTouch): a heap grown on demand made the broker's RSS climb from 208 to
# 389 MB over a 30-minute soak, so its memory could not be told apart from a leak.
HEAP = ("-Xms384m", "-Xmx384m", "-XX:+AlwaysPreTouch")
# C1 only (no C2 optimising compiler): measured on the 2-core machine with 6,000 idempotent produce requests of
# 4 x 25 statements, the broker used 5.1 instead of 8.5 CPU s to start and 2.0-2.8 instead of 3.8-4.6 CPU s per
# 1,500 requests once warm: C2's compile threads cost more than its faster code saves at a laptop's rates.
JVM_FLAGS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError",
             "-Djava.awt.headless=true")
# The format tool runs once and briefly: skip the optimising compiler, it only costs start-up time.
TOOL_FLAGS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto")
FORMAT_TIMEOUT_S = 60.0

_LOG4J2 = """\
# Written by lrs stack: the broker's log goes to stdout (<state_dir>/logs/<node>.log), warnings only, plus
# the start and stop lines and the failover lines below.
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = OUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = INFO
# When a node is fenced and partitions change leader, and where transaction coordinators move, what they load and
# which commit markers they could not send: what a failover did.
logger.replication.name = org.apache.kafka.controller.ReplicationControlManager
logger.replication.level = INFO
logger.transactions.name = kafka.coordinator.transaction
logger.transactions.level = INFO
"""


def service_name(node: int) -> str:
    """Stack service (pid file) name of KRaft node ``node`` (1-based): ``broker``, ``broker-2``, ..."""
    return "broker" if node == 1 else f"broker-{node}"


def node_of(name: str) -> int:
    """The node number of a broker service name (inverse of ``service_name``)."""
    return 1 if name == "broker" else int(name.rsplit("-", 1)[1])


def client_port(settings: Settings, node: int) -> int:
    """Where clients reach node ``node``."""
    return settings.broker_port + 2 * (node - 1)


def controller_port(settings: Settings, node: int) -> int:
    """Where the KRaft controllers of the quorum talk to node ``node``."""
    return client_port(settings, node) + 1


def address(settings: Settings, node: int = 1) -> str:
    """Where clients reach node ``node``."""
    return f"127.0.0.1:{client_port(settings, node)}"


def node_dir(state_dir: Path, node: int) -> Path:
    """Configuration and log directory of one node."""
    return state_dir / "kafka" / f"node-{node}"


def java_binary() -> str:
    """The ``java`` to run the broker with (``JAVA_HOME`` first, then the PATH); StackError if none."""
    home = os.environ.get("JAVA_HOME")
    candidate = Path(home) / "bin" / "java" if home else None
    if candidate is not None and os.access(candidate, os.X_OK):
        return str(candidate)
    found = which("java")
    if not found:
        raise StackError("Java is not installed (the Kafka broker needs Java 17 or newer): install a JDK, "
                         "e.g. `apt-get install openjdk-17-jre-headless`, or set JAVA_HOME")
    return found


def class_path(settings: Settings) -> str:
    """The broker's class path; StackError naming the fix if setup has not fetched it."""
    lib = Path(settings.kafka_lib_dir)
    if not any(lib.glob("kafka_2.13-*.jar")):
        raise StackError(f"the Apache Kafka broker is not installed in {lib}: run scripts/setup.sh (it fetches "
                         "the pinned broker from Maven Central with deploy/kafka-broker/pom.xml)")
    return f"{lib}/*"


def recorded_nodes(state_dir: Path) -> int:
    """How many nodes the Kafka cluster in ``state_dir`` was created with (0: none yet)."""
    try:
        return int((state_dir / "kafka" / "nodes").read_text().strip())
    except (OSError, ValueError):
        return 0


def record_nodes(state_dir: Path, count: int) -> None:
    """Remember the cluster's size before its nodes are formatted (see ``recorded_nodes``)."""
    path = state_dir / "kafka" / "nodes"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{count}\n")


def _cluster_id(state_dir: Path) -> str:
    """The KRaft cluster id of this state dir: made once, kept, shared by every node."""
    path = state_dir / "kafka" / "cluster.id"
    if path.is_file():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    cluster_id = "-"
    while cluster_id.startswith("-"):  # the format tool reads a leading "-" as an option; Kafka avoids it too
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(cluster_id + "\n")
    tmp.replace(path)
    return cluster_id


def server_properties(settings: Settings, count: int, node: int, data_dir: Path) -> str:
    """``server.properties`` of node ``node`` of a ``count``-node KRaft cluster on loopback."""
    replicas = min(count, 3)
    min_isr = 2 if replicas >= 3 else 1
    voters = ",".join(f"{n}@127.0.0.1:{controller_port(settings, n)}" for n in range(1, count + 1))
    lines = {
        "process.roles": "broker,controller",
        "node.id": node,
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://127.0.0.1:{client_port(settings, node)},"
                     f"CONTROLLER://127.0.0.1:{controller_port(settings, node)}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{client_port(settings, node)}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data_dir),
        # Every topic, ours and Kafka's internal ones, replicated on up to three nodes; a write is acknowledged
        # (acks=all) only once two of them have it, and an out-of-sync replica never becomes leader.
        "default.replication.factor": replicas,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": min_isr,
        "unclean.leader.election.enable": "false",
        "auto.create.topics.enable": "false",
        # A local stack starts its workers together: no reason to wait for more members before assigning.
        "group.initial.rebalance.delay.ms": 0,
        # Internal topics sized for a laptop (50 partitions each by default: slow to create, idle).
        "offsets.topic.num.partitions": 6,
        "transaction.state.log.num.partitions": 6,
        # 2 cores: few threads; segments small enough that retention and compaction act on a laptop's data.
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "background.threads": 4,
        "log.segment.bytes": 64 * 1024 * 1024,
        "log.cleaner.dedupe.buffer.size": 16 * 1024 * 1024,
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def prepare(settings: Settings, state_dir: Path, count: int, node: int) -> list[str]:
    """Write the configuration of node ``node`` of ``count``, format its storage on the first start, return its
    command line."""
    java = java_binary()
    cp = class_path(settings)
    directory = node_dir(state_dir, node)
    data_dir = directory / "data"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "server.properties"
    config.write_text(server_properties(settings, count, node, data_dir))
    log4j = state_dir / "kafka" / "log4j2.properties"
    log4j.write_text(_LOG4J2)
    logging = f"-Dlog4j2.configurationFile={log4j}"
    if not (data_dir / "meta.properties").is_file():
        command = [java, *TOOL_FLAGS, logging, "-cp", cp, "kafka.tools.StorageTool", "format", "--ignore-formatted",
                   "-t", _cluster_id(state_dir), "-c", str(config)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=FORMAT_TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(f"formatting the Kafka log of node {node} failed: {exc}") from exc
        if done.returncode != 0:
            tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
            raise StackError(f"formatting the Kafka log of node {node} in {data_dir} failed "
                             f"(exit code {done.returncode}):\n{tail}")
    return [java, *HEAP, *JVM_FLAGS, logging, "-cp", cp, "kafka.Kafka", str(config)]


def is_ready(port: int, timeout: float = 2.0) -> bool:
    """True once the node accepts TCP connections and answers a metadata request."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
    except OSError:
        return False  # cheap check first: kafka-python logs noisily against a closed port
    from kafka import KafkaAdminClient  # imported late: ~0.15 s, only needed here

    try:
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", client_id="lrs-stack-probe",
                                 request_timeout_ms=int(timeout * 1000),
                                 bootstrap_timeout_ms=int(timeout * 1000))
        try:
            admin.describe_cluster()
        finally:
            admin.close()
        return True
    except Exception:  # any client error means "not ready yet"
        return False
