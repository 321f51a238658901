"""Interpreter tuning of the long-running processes (LRS, stream workers): collector thresholds, switch interval.

A batched request or a sink batch keeps tens of thousands of freshly parsed JSON objects alive while it
is processed; with CPython's default thresholds (700, 10, 10) the collector rescans them (and the
process's whole heap) again and again: measured on sink batches, 70 of 80 us per statement went to the
collector, 5 of 17 with (10000, 100, 100). Nearly all of that garbage is freed by reference counting;
collections still run, just less often, so memory stays bounded.

The switch interval: a thread that waits on the network (the sink's Kafka fetches and ClickHouse inserts, the
producer's sender) needs the interpreter back after each reply, and a CPU-bound thread (the analytics refresh
rebuilding a course, validation) keeps it for up to the interval: 5 ms by default. Measured with a thread doing
0.5 ms round trips beside a busy thread (2 cores): 162 round trips/s at 5 ms, 493 at 1 ms, 604 at 0.5 ms (1,440
with no busy thread); the busy thread lost 6 % of its loops at 1 ms and nothing more below.
"""

from __future__ import annotations

import gc
import sys


def tune_gc(thresholds: str) -> None:
    """Move everything alive after start-up out of the collector's sight, then set ``thresholds`` ("a,b,c")."""
    gc.collect()
    gc.freeze()  # modules, settings, clients: alive for the whole process, never garbage
    gc.set_threshold(*(int(part) for part in thresholds.split(",")))


def set_switch_interval(ms: float) -> None:
    """Let a thread waiting for the interpreter have it after ``ms`` milliseconds of another thread's work."""
    sys.setswitchinterval(ms / 1000)
