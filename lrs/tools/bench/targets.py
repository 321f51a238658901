"""The targets of issue 6 (2 cores for everything), one place for every phase that checks one."""

from __future__ import annotations

from lrs.tools.bench.report import Target

BATCHED_TARGET = Target(">=", 10_000)
RALPH_TARGET = Target(">=", 20, applies_to="ratio")
SINGLE_TARGET = Target(">=", 2_000)
FRESHNESS_TARGET = Target("<", 2_000)
DASHBOARD_TARGET = Target("<", 200)
FLAT_TARGET = Target("<", 10.0, text="flat (< +10 % over the second half)")
