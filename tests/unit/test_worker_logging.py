"""The worker logs warnings and errors only: the client libraries' debug calls stay cheap no-ops."""

from __future__ import annotations

import logging

from lrs.core.config import Settings
from streams.app import create_app, faust_worker


def test_the_worker_builds_no_debug_records_for_its_client_libraries() -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    worker = faust_worker(create_app(Settings()))
    try:
        worker._setup_logging()  # what the worker does first when it starts
        for name in ("aiokafka.consumer.fetcher", "clickhouse_driver.streams.native", "faust"):
            assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert root.getEffectiveLevel() == logging.WARNING
    finally:
        root.setLevel(saved[0])
        root.handlers[:] = saved[1]
