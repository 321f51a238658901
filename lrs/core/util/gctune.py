"""Garbage-collector thresholds for the long-running processes (LRS, stream workers).

A batched request or a sink batch keeps tens of thousands of freshly parsed JSON objects alive while it
is processed; with CPython's default thresholds (700, 10, 10) the collector rescans them (and the
process's whole heap) again and again: measured on sink batches, 70 of 80 us per statement went to the
collector, 5 of 17 with (10000, 100, 100). Nearly all of that garbage is freed by reference counting;
collections still run, just less often, so memory stays bounded.
"""

from __future__ import annotations

import gc


def tune_gc(thresholds: str) -> None:
    """Move everything alive after start-up out of the collector's sight, then set ``thresholds`` ("a,b,c")."""
    gc.collect()
    gc.freeze()  # modules, settings, clients: alive for the whole process, never garbage
    gc.set_threshold(*(int(part) for part in thresholds.split(",")))
