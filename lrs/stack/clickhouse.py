"""The embedded ClickHouse server (Debian's clickhouse-server 18.16), with its own config under the state dir."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

from lrs.stack.process import StackError

CONFIG = """<yandex>
    <logger><level>warning</level><log>{d}/log/server.log</log><errorlog>{d}/log/error.log</errorlog></logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{tcp}</tcp_port>
    <http_port>{http}</http_port>
    <path>{d}/data/</path>
    <tmp_path>{d}/tmp/</tmp_path>
    <user_files_path>{d}/user_files/</user_files_path>
    <format_schema_path>{d}/format_schemas/</format_schema_path>
    <users_config>{d}/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>536870912</uncompressed_cache_size>
</yandex>
"""

# `grafana` is the read-only user dashboards use; both users are reachable from loopback only.
USERS = """<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </default>
        <readonly>
            <readonly>1</readonly>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
        <grafana>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>readonly</profile>
            <quota>default</quota>
        </grafana>
    </users>
    <quotas>
        <default>
            <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows>
            <read_rows>0</read_rows><execution_time>0</execution_time></interval>
        </default>
    </quotas>
</yandex>
"""


def server_binary() -> str:
    """Path of clickhouse-server, or a StackError telling how to install it."""
    path = shutil.which("clickhouse-server") or shutil.which("clickhouse")
    if not path:
        raise StackError("clickhouse-server is not installed: run scripts/setup.sh (apt-get install clickhouse-server)")
    return path


def write_config(root: Path, tcp_port: int, http_port: int) -> Path:
    """Write config.xml and users.xml under ``root``; return the config path."""
    for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    d = str(root.resolve())
    (root / "config.xml").write_text(CONFIG.format(d=d, tcp=tcp_port, http=http_port))
    (root / "users.xml").write_text(USERS)
    return root / "config.xml"


def server_argv(config: Path) -> list[str]:
    """Command line of the server as a plain foreground process."""
    binary = server_binary()
    argv = [binary] if binary.endswith("clickhouse-server") else [binary, "server"]
    return [*argv, f"--config-file={config.resolve()}"]


def clickhouse_ready(http_port: int) -> bool:
    """True once /ping answers."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/ping", timeout=1) as response:
        return response.status == 200
