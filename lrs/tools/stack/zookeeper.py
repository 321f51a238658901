"""The embedded ZooKeeper of a cluster stack (Debian's ``zookeeper`` package, 3.8), standalone, loopback only.

The replicated ClickHouse tables keep their replication log and the quorum state of inserts in it, and
``ON CLUSTER`` DDL goes through its distributed DDL queue. One node is enough on one machine: ZooKeeper's own
redundancy is not what the cluster stack exercises. Its configuration and data live in ``<state_dir>/zookeeper/``
(data kept across restarts, like ClickHouse's); output goes to ``<state_dir>/logs/zookeeper.log``.
"""

from __future__ import annotations

import socket
from pathlib import Path

from lrs.core.config import Settings
from lrs.tools.stack.broker import java_binary
from lrs.tools.stack.process import StackError

NAME = "zookeeper"
PORT_SETTING = "zookeeper_port"
JAR = Path("/usr/share/java/zookeeper.jar")  # its manifest's Class-Path names the other jars of the package
MAIN = "org.apache.zookeeper.server.ZooKeeperServerMain"
HEAP = ("-Xms32m", "-Xmx192m")
JVM_FLAGS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true")


def home(state_dir: Path) -> Path:
    """Configuration and data directory."""
    return state_dir / NAME


def jar() -> str:
    """The server's jar; StackError naming the fix if the package is missing."""
    if not JAR.is_file():
        raise StackError(f"ZooKeeper is not installed ({JAR} is missing): run scripts/setup.sh (it installs "
                         "Debian's zookeeper package with apt-get)")
    return str(JAR)


def config(settings: Settings, data_dir: Path) -> str:
    """``zoo.cfg`` of a standalone server on loopback."""
    lines = {
        "tickTime": 2000,
        "dataDir": data_dir,
        "clientPort": settings.zookeeper_port,
        "clientPortAddress": "127.0.0.1",
        "maxClientCnxns": 0,
        "admin.enableServer": "false",  # its Jetty would bind 0.0.0.0:8080
        "4lw.commands.whitelist": "ruok,srvr,mntr",
        # Snapshots and logs purged hourly, keeping 3: the DDL queue and insert blocks churn.
        "autopurge.snapRetainCount": 3,
        "autopurge.purgeInterval": 1,
    }
    return "".join(f"{key}={value}\n" for key, value in lines.items())


def argv(settings: Settings, state_dir: Path) -> list[str]:
    """Write the configuration, return the server's command line."""
    java = java_binary()
    classpath = jar()
    directory = home(state_dir).resolve()
    data_dir = directory / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg = directory / "zoo.cfg"
    cfg.write_text(config(settings, data_dir))
    return [java, *HEAP, *JVM_FLAGS, "-cp", classpath, MAIN, str(cfg)]


def address(settings: Settings) -> str:
    """Where clients (the ClickHouse replicas) reach it."""
    return f"127.0.0.1:{settings.zookeeper_port}"


def is_ready(port: int, timeout: float = 2.0) -> bool:
    """True once the server answers ``ruok`` with ``imok`` (it serves requests)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"ruok")
            return sock.recv(16) == b"imok"
    except OSError:
        return False
