"""Resident memory (RSS) of the stack's processes, sampled in a background thread (psutil, else /proc)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.stats import growth

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _children_proc(pid: int) -> list[int]:
    """Descendants of ``pid`` from /proc (used when psutil is missing)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def tree_rss_mb(pid: int) -> float:
    """RSS in MB of ``pid`` plus all its descendants (e.g. uvicorn's worker processes); 0 if gone."""
    try:
        import psutil

        try:
            proc = psutil.Process(pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return 0.0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total / 1e6
    except ImportError:
        total = 0
        for p in [pid, *_children_proc(pid)]:
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * PAGE
        return total / 1e6


class RssSampler:
    """Samples the RSS of named process trees every ``interval`` seconds until stopped."""

    def __init__(self, pids: Callable[[], dict[str, int]], interval: float = 5.0) -> None:
        self._pids = pids
        self.interval = interval
        self.samples: dict[str, list[tuple[float, float]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        start = time.monotonic()
        while True:
            now = time.monotonic() - start
            for name, pid in self._pids().items():
                self.samples.setdefault(name, []).append((round(now, 1), round(tree_rss_mb(pid), 1)))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def report(self) -> dict[str, dict[str, Any]]:
        """Per process: start/end/max RSS (MB), growth after warm-up, and the samples."""
        out = {}
        for name, series in self.samples.items():
            values = [v for _, v in series]
            out[name] = {"start_mb": values[0], "end_mb": values[-1], "max_mb": max(values),
                         "growth": growth(values), "samples": series}
        return out
