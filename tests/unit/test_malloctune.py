"""The LRS's and the workers' heap tuning on glibc: freed memory inside the heap goes back to the system."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import pytest

from lrs.core.util import malloctune

# In a fresh interpreter: 2 KB objects (above pymalloc's limit: glibc's heap) filling ~200 MB, all freed but the
# last, which holds the top of the heap, so glibc's own trimming of the heap's top cannot give the rest back.
SCRIPT = """
import sys
from lrs.core.util.malloctune import trim

def anon_kb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon"))

kept = [bytes(2048) + bytes([i % 256]) for i in range(100_000)]
last = kept[-1]
del kept
before = anon_kb()
trimmed = trim()
print(before, anon_kb(), trimmed)
"""


@pytest.mark.skipif(malloctune._LIBC is None or not sys.platform.startswith("linux"), reason="glibc only")
def test_trim_hands_freed_heap_memory_back() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True).stdout.split()
    before, after, trimmed = int(out[0]), int(out[1]), out[2]
    assert trimmed == "True"
    assert before - after > 100_000, (before, after)  # of the ~200 MB freed, most was still held before the trim


@pytest.mark.skipif(malloctune._LIBC is None, reason="glibc only")
def test_arena_limit_is_set_and_zero_keeps_the_default() -> None:
    assert malloctune.limit_arenas(0) is False
    assert malloctune.limit_arenas(2) is True


def test_trim_every_trims_until_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(malloctune, "trim", lambda: calls.append(time.monotonic()) or True)

    async def main() -> tuple[int, int]:
        task = asyncio.create_task(malloctune.trim_every(0.02))
        await asyncio.sleep(0.15)
        task.cancel()
        seen = len(calls)
        await asyncio.sleep(0.06)
        return seen, len(calls)

    seen, later = asyncio.run(main())
    assert seen >= 3
    assert later == seen  # cancelled: no more trims
