"""Where LRS time goes: py-spy ``record --format raw`` of the LRS processes, folded into a short summary."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# Buckets for the summary, matched against a frame's "function (path:line)" text (py-spy prints paths relative
# to sys.path, e.g. "(lrs/core/xapi/validate.py:51)" or "(kafka/producer/kafka.py:963)").
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("auth: argon2 verification / credential lookups", ("(argon2/", "(lrs/service/auth/")),
    ("xAPI validation (lrs/core/xapi)", ("(lrs/core/xapi/",)),
    ("ClickHouse queries (id check, consistency)",
     ("(clickhouse_driver/", "(lrs/core/store/", "(lrs/service/consistency.py")),
    ("Kafka produce (kafka-python)", ("(kafka/", "(lrs/service/publisher.py")),
    ("JSON encode/decode", ("(json/", "orjson", "(lrs/core/kafka/envelope.py", "(lrs/core/util/jsondepth.py")),
    ("stream worker: sink rows and inserts", ("(streams/",)),
    ("statement preparation (lrs/service/statements)", ("(lrs/service/statements/",)),
    ("request handling (lrs/service/routes, lrs/service/app)",
     ("(lrs/service/routes/", "(lrs/service/app.py", "(lrs/service/errors.py")),
    ("HTTP server (uvicorn/starlette/fastapi)", ("(uvicorn/", "(starlette/", "(fastapi/", "(httptools/", "(h11/")),
)
# Frames that say little on their own: a sample is put here only if no specific frame is on its stack.
GENERIC = ("asyncio / threads / other", ("(asyncio/", "(threading.py", "(concurrent/", "(selectors.py", "(queue.py"))
# Leaf frames of a thread or process that is waiting for work (py-spy samples idle threads too): such a sample is
# idle, not a cost of the code that happens to be further up its stack (uvicorn's loop, a thread pool).
IDLE = ("idle: event loop, pool or pipe waiting for work",
        ("Runner.run (asyncio/runners.py", "_worker (concurrent/futures/thread.py",
         "Connection._recv (multiprocessing/", "select (selectors.py", "_run_once (asyncio/base_events.py"))
_OWN_CODE = ("(lrs/", "(streams/")


def executable() -> str | None:
    """py-spy on PATH or beside this Python (a virtualenv's bin, when the venv is not activated)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.is_file() else None)


def available() -> bool:
    """Whether py-spy is installed."""
    return executable() is not None


def record(pid: int, seconds: float, output: Path, rate: int = 100, fmt: str = "raw") -> subprocess.Popen:
    """Start py-spy on ``pid`` and its subprocesses for ``seconds``; returns the running py-spy.

    ``fmt`` is py-spy's output format: ``raw`` (collapsed stacks, for :func:`summarize`) or ``flamegraph`` (SVG).
    Only the thread holding the interpreter is sampled (``--gil``): py-spy takes a thread blocked in a socket read
    (a ClickHouse or Kafka reply) for a working one, and those waits were up to a sixth of the samples.
    """
    output.parent.mkdir(parents=True, exist_ok=True)
    argv = [executable() or "py-spy", "record", "--pid", str(pid), "--subprocesses", "--gil",
            "--duration", str(max(1, int(seconds))), "--rate", str(rate), "--format", fmt, "--output", str(output),
            "--nonblocking"]
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def parse_raw(lines: Iterable[str]) -> list[tuple[list[str], int]]:
    """Parse py-spy's collapsed stacks (``root;...;leaf COUNT``) into (frames root-first, count)."""
    stacks = []
    for line in lines:
        line = line.rstrip("\n")
        if not line or " " not in line:
            continue
        stack, _, count = line.rpartition(" ")
        try:
            stacks.append((stack.split(";"), int(count)))
        except ValueError:
            continue
    return stacks


def categorize(frames: list[str]) -> str:
    """The category of a sample: idle when its leaf waits for work, else the first specific pattern that
    matches, scanning from the leaf toward the root."""
    if frames and any(p in frames[-1] for p in IDLE[1]):
        return IDLE[0]
    for frame in reversed(frames):
        for name, patterns in CATEGORIES:
            if any(p in frame for p in patterns):
                return name
    return GENERIC[0]


def summarize(stacks: list[tuple[list[str], int]], top: int = 15) -> dict[str, Any]:
    """Share of samples per category, the top functions by inclusive share, and the top leaf functions."""
    total = sum(c for _, c in stacks) or 1
    categories: Counter = Counter()
    inclusive: Counter = Counter()
    leaves: Counter = Counter()
    for frames, count in stacks:
        categories[categorize(frames)] += count
        for frame in set(frames):
            if any(own in frame for own in _OWN_CODE):
                inclusive[frame] += count
        if frames:
            leaves[frames[-1]] += count
    share = lambda c: round(100 * c / total, 1)  # noqa: E731
    return {
        "samples": total,
        "categories_pct": {k: share(v) for k, v in categories.most_common()},
        "lrs_functions_inclusive_pct": {k: share(v) for k, v in inclusive.most_common(top)},
        "leaf_functions_pct": {k: share(v) for k, v in leaves.most_common(top)},
    }
