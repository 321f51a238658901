"""The embedded ClickHouse server (Debian's ``clickhouse-server`` 18.16) with its own config under the state dir.

Everything lives in ``<state_dir>/clickhouse/``: ``config.xml``, ``users.xml``, ``data/`` (kept across restarts),
``tmp/``, ``user_files/``, ``format_schemas/`` and ``logs/``.

A cluster stack (``lrs stack up --cluster``) runs ``replicas`` servers as the replicas of one shard: replica ``i``
lives in ``<state_dir>/clickhouse-i/`` (replica 1 in ``clickhouse/``), listens on ``clickhouse_tcp_port + 2*(i-1)``
(native), the port after it (interserver: replicas fetch parts from each other over it) and
``clickhouse_http_port + i-1``, and gets ``config.d/cluster.xml``: the ZooKeeper of the stack, its macros
(``{shard}`` 01, ``{replica}`` rI), the cluster ``remote_servers`` (named ``clickhouse_cluster``, default ``lrs``)
and the distributed DDL queue that ``ON CLUSTER`` statements go through.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import os
import shutil
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

from lrs.core.config import Settings
from lrs.tools.stack.process import StackError

NAME = "clickhouse"
PORT_SETTINGS = ("clickhouse_tcp_port", "clickhouse_http_port")
# /usr/sbin is not on a normal user's PATH on Debian, and newer packages ship one multi-call `clickhouse`.
_CANDIDATES = ("/usr/bin/clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse")
_GiB = 1024**3


def server_binary() -> str:
    """Path of the ClickHouse server program, or a StackError saying how to install it."""
    found = shutil.which("clickhouse-server") or next(
        (c for c in _CANDIDATES if os.access(c, os.X_OK)), None) or shutil.which("clickhouse")
    if not found:
        raise StackError("clickhouse-server is not installed: run scripts/setup.sh "
                         "(it installs Debian's clickhouse-server package with apt-get)")
    return found


DEFAULT_CLUSTER = "lrs"
REPLICAS_FILE = "clickhouse-replicas"


def service_name(replica: int = 1) -> str:
    """Stack service (pid file) name of replica ``replica`` (1-based): ``clickhouse``, ``clickhouse-2``, ..."""
    return NAME if replica == 1 else f"{NAME}-{replica}"


def home(state_dir: Path, replica: int = 1) -> Path:
    """The server's directory under the state dir."""
    return state_dir / service_name(replica)


def tcp_port(settings: Settings, replica: int = 1) -> int:
    """Native-protocol port of replica ``replica``."""
    return settings.clickhouse_tcp_port + 2 * (replica - 1)


def interserver_port(settings: Settings, replica: int = 1) -> int:
    """Where the other replicas fetch parts from replica ``replica``."""
    return tcp_port(settings, replica) + 1


def http_port(settings: Settings, replica: int = 1) -> int:
    """HTTP port of replica ``replica``."""
    return settings.clickhouse_http_port + replica - 1


def cluster_name(settings: Settings) -> str:
    """The cluster's name in ``remote_servers`` (what ``LRS_CLICKHOUSE_CLUSTER`` must say)."""
    return settings.clickhouse_cluster or DEFAULT_CLUSTER


def recorded_replicas(state_dir: Path) -> int:
    """Replicas the ClickHouse of ``state_dir`` was created with (0: none yet; 1 for a stack made before)."""
    try:
        return int((state_dir / REPLICAS_FILE).read_text().strip())
    except (OSError, ValueError):
        return 1 if (home(state_dir) / "data").is_dir() else 0


def record_replicas(state_dir: Path, count: int) -> None:
    """Remember the replica count before the first start (tables are replicated or not from their creation)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    (state_dir / REPLICAS_FILE).write_text(f"{count}\n")


def log_paths(state_dir: Path, replica: int = 1) -> tuple[Path, Path, Path]:
    """(stdout/stderr log, server log, server error log)."""
    logs = home(state_dir, replica) / "logs"
    return logs / "stdout.log", logs / "clickhouse-server.log", logs / "clickhouse-server.err.log"


def _memory_limit() -> int:
    """Per-query memory limit: half the RAM, between 1 and 8 GiB, so one query cannot take the machine down."""
    try:
        with open("/proc/meminfo") as meminfo:
            total = next(int(line.split()[1]) * 1024 for line in meminfo if line.startswith("MemTotal:"))
    except (OSError, StopIteration, ValueError):
        return 4 * _GiB
    return max(_GiB, min(8 * _GiB, total // 2))


def _element(parent: ET.Element, tag: str, text: object | None = None, **children: object) -> ET.Element:
    node = ET.SubElement(parent, tag)
    if text is not None:
        node.text = str(text)
    for child, value in children.items():
        ET.SubElement(node, child).text = str(value)
    return node


def _write(root: ET.Element, path: Path) -> None:
    ET.indent(root)
    tmp = path.with_suffix(".tmp")
    ET.ElementTree(root).write(tmp, encoding="unicode", xml_declaration=True)
    tmp.replace(path)


def _config(settings: Settings, d: Path, replica: int) -> ET.Element:
    root = ET.Element("yandex")  # ClickHouse 18.16 requires this root element
    logs = d / "logs"
    _element(root, "logger", level="information", log=logs / "clickhouse-server.log",
             errorlog=logs / "clickhouse-server.err.log", size="50M", count=2)
    _element(root, "listen_host", "127.0.0.1")  # loopback only; the interserver port only in config.d (cluster)
    _element(root, "tcp_port", tcp_port(settings, replica))
    _element(root, "http_port", http_port(settings, replica))
    # ClickHouse requires the trailing slash on these directories.
    _element(root, "path", f"{d / 'data'}/")
    _element(root, "tmp_path", f"{d / 'tmp'}/")
    _element(root, "user_files_path", f"{d / 'user_files'}/")
    _element(root, "format_schema_path", f"{d / 'format_schemas'}/")
    _element(root, "users_config", d / "users.xml")
    _element(root, "default_profile", "default")
    _element(root, "default_database", "default")
    _element(root, "timezone", "UTC")
    _element(root, "mark_cache_size", 256 * 1024**2)
    _element(root, "uncompressed_cache_size", 512 * 1024**2)
    # system.part_log: every new, merged and removed part with its table, rows and duration, so an operator (and
    # the bench's CPU split) can tell which tables the background merges spend their time on.
    _element(root, "part_log", database="system", table="part_log", flush_interval_milliseconds=7500)
    return root


def _users(log_queries: bool = False) -> ET.Element:
    root = ET.Element("yandex")
    profiles = _element(root, "profiles")
    # LowCardinality(String) in our DDL needs the experimental flag on 18.16, for readers too.
    # poll_interval: idle client connections hold up a SIGTERM shutdown for up to this many seconds (10 by
    # default), which made every stop of a server with connected workers take 10 s.
    _element(profiles, "default", max_memory_usage=_memory_limit(), allow_experimental_low_cardinality_type=1,
             poll_interval=1, log_queries=int(log_queries))
    _element(profiles, "readonly", readonly=1, allow_experimental_low_cardinality_type=1)
    users = _element(root, "users")
    # `default` is what the LRS and workers use; `grafana` is the read-only user of dashboards. No passwords:
    # both are reachable from loopback only.
    for name, profile in (("default", "default"), ("grafana", "readonly")):
        user = _element(users, name, password="")
        networks = _element(user, "networks")
        _element(networks, "ip", "127.0.0.1")
        _element(networks, "ip", "::1")
        _element(user, "profile", profile)
        _element(user, "quota", "default")
    quotas = _element(root, "quotas")
    _element(_element(quotas, "default"), "interval", duration=3600, queries=0, errors=0, result_rows=0,
             read_rows=0, execution_time=0)  # 0 = unlimited; the quota only counts
    return root


def _cluster(settings: Settings, replica: int, replicas: int) -> ET.Element:
    """``config.d/cluster.xml`` of replica ``replica`` of a one-shard cluster of ``replicas``."""
    root = ET.Element("yandex")
    _element(root, "interserver_http_host", "127.0.0.1")
    _element(root, "interserver_http_port", interserver_port(settings, replica))
    _element(_element(root, "zookeeper"), "node", host="127.0.0.1", port=settings.zookeeper_port)
    _element(root, "macros", shard="01", replica=f"r{replica}", cluster=cluster_name(settings))
    shard = _element(_element(_element(root, "remote_servers"), cluster_name(settings)), "shard")
    # Inserts reach one replica and replication copies them (never a Distributed table writing to each).
    _element(shard, "internal_replication", "true")
    for other in range(1, replicas + 1):
        _element(shard, "replica", host="127.0.0.1", port=tcp_port(settings, other))
    _element(root, "distributed_ddl", path="/clickhouse/task_queue/ddl")
    return root


def write_config(settings: Settings, state_dir: Path, replica: int = 1, replicas: int = 1) -> Path:
    """Write ``config.xml``, ``users.xml`` and, in a cluster, ``config.d/cluster.xml`` (ports from ``settings``),
    create the directories; return config.xml.

    Rewritten on every start so changed port settings apply; the data directory is never touched.
    """
    d = home(state_dir, replica).resolve()
    for sub in ("data", "tmp", "user_files", "format_schemas", "logs", "config.d"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    _write(_users(settings.clickhouse_log_queries), d / "users.xml")
    cluster = d / "config.d" / "cluster.xml"
    if replicas > 1:
        _write(_cluster(settings, replica, replicas), cluster)
    else:
        cluster.unlink(missing_ok=True)
    config = d / "config.xml"
    _write(_config(settings, d, replica), config)
    return config


def argv(settings: Settings, state_dir: Path, replica: int = 1, replicas: int = 1) -> list[str]:
    """Command line of the server as a plain foreground process (writes the config first)."""
    binary = server_binary()
    config = write_config(settings, state_dir, replica, replicas)
    prefix = [binary, "server"] if os.path.basename(binary) == "clickhouse" else [binary]
    return [*prefix, f"--config-file={config}"]


def environment(settings: Settings) -> dict[str, str] | None:
    """The server's environment: this process's, with jemalloc tuned by ``clickhouse_malloc_conf`` if set."""
    if not settings.clickhouse_malloc_conf:
        return None  # inherited as is (an operator's own MALLOC_CONF applies)
    return {**os.environ, "MALLOC_CONF": settings.clickhouse_malloc_conf}


# Linux's inode flags (linux/fs.h, what chattr sets): FS_TOPDIR_FL tells ext4's Orlov allocator to spread a
# directory's subdirectories over the disk's block groups.
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def spread_parts(state_dir: Path, replica: int = 1) -> int:
    """Mark each table directory of the server as a top directory (``chattr +T``); returns how many were marked.

    ClickHouse writes every insert and merge as a new part directory in its table's directory, and deletes the
    parts merged away. ext4 puts a subdirectory in a block group next to its parent unless the parent is a top
    directory, and without a journal it checks each recently freed inode of that group before it uses a free one
    (it leaves them alone for a minute or more). The groups beside a table thus fill with inodes that merges, or
    any deletion of many files nearby, freed, and each new file scans them: measured, 57-105 instead of 8-10 ms of
    kernel time per insert of 400 statements (docs/benchmarks.md). Marked, the parts spread over the whole disk.
    Directories on other file systems, or that refuse the flag, are left as they are.
    """
    marked = 0
    tables = home(state_dir, replica) / "data" / "data"
    for table in sorted(tables.glob("*/*")):
        with contextlib.suppress(OSError):  # not ext4, gone meanwhile, or not a directory: nothing to spread
            fd = os.open(table, os.O_RDONLY | os.O_DIRECTORY)
            try:
                flags = bytearray(4)
                fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
                (value,) = struct.unpack("i", flags)
                if not value & _FS_TOPDIR_FL:
                    fcntl.ioctl(fd, _FS_IOC_SETFLAGS, bytearray(struct.pack("i", value | _FS_TOPDIR_FL)), True)
                    marked += 1
            finally:
                os.close(fd)
    return marked


def address(settings: Settings, replica: int = 1) -> str:
    """Where clients reach the server."""
    return f"127.0.0.1:{tcp_port(settings, replica)} (http {http_port(settings, replica)})"


def is_ready(http_port: int, timeout: float = 2.0) -> bool:
    """True once ``GET /ping`` on the HTTP port answers 200 (tables are loaded before the ports open)."""
    # http.client rather than urllib: urllib would route loopback through an HTTP(S)_PROXY from the environment.
    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=timeout)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()
