"""Interpreter tuning of the LRS and worker processes: thresholds, frozen start-up heap, switch interval."""

from __future__ import annotations

import gc
import sys

import pytest
from pydantic import ValidationError

from lrs.core.config import Settings
from lrs.core.util.gctune import set_switch_interval, tune_gc


@pytest.fixture
def interpreter():
    """Restore the collector and the switch interval after the test."""
    thresholds, interval = gc.get_threshold(), sys.getswitchinterval()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    sys.setswitchinterval(interval)


def test_tune_gc_sets_the_thresholds_and_freezes_the_start_up_heap(interpreter):
    tune_gc("12345,67,89")
    assert gc.get_threshold() == (12345, 67, 89)
    assert gc.get_freeze_count() > 0


def test_the_default_switch_interval_is_applied_in_seconds(interpreter):
    set_switch_interval(Settings().gil_switch_interval_ms)
    assert sys.getswitchinterval() == pytest.approx(0.0005)


@pytest.mark.parametrize("ms", ["0", "-1", "1000"])
def test_a_switch_interval_out_of_range_is_refused_at_start_up(monkeypatch, ms):
    monkeypatch.setenv("LRS_GIL_SWITCH_INTERVAL_MS", ms)
    with pytest.raises(ValidationError):
        Settings()
