"""Where the LRS's Prometheus metrics are served: a port of their own, for the operator's Prometheus only.

The metrics name tenants (``lrs_statements_accepted_total{tenant=...}``), so they are never on the xAPI port
(which answers 404 for ``/metrics``). ``lrs serve --workers N`` runs N processes: each writes its values to
files in one directory (prometheus_client's multiprocess mode), and the serving process's metrics port adds
them up, so one scrape covers every worker process.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lrs.core.config import Settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess(settings: Settings) -> Path:
    """An empty metrics directory for this server, named in the environment the worker processes inherit.

    Must run before anything imports prometheus_client in this process (it picks its value store on import).
    Values of an earlier run are wiped: counters restart at 0 with the server, as Prometheus expects.
    """
    folder = Path(settings.state_dir).resolve() / "run" / f"metrics-{settings.http_port}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def start_metrics_server(settings: Settings) -> None:
    """Serve the sum of every worker process's metrics on ``metrics_host:metrics_port`` (a daemon thread)."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    start_http_server(settings.metrics_port, addr=settings.metrics_host, registry=registry)
