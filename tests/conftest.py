"""Shared fixtures: one real pipeline per test session for the integration tests that do not break it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import Pipeline, make_settings


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    """Broker + ClickHouse + migrations + LRS + one worker, shared by non-destructive tests."""
    running = Pipeline(make_settings(tmp_path_factory.mktemp("pipeline"))).start()
    try:
        yield running
    finally:
        running.stop()
