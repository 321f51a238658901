"""The C heap of the long-running processes (LRS, stream workers; glibc): two arenas, and what is freed handed back.

A sink batch or an analytics round allocates tens of MB from several threads (the executor's) and frees them again.
glibc gives each thread that meets contention an arena of its own (up to 8 per core) and keeps what is freed in
it for reuse, so the process's memory follows the high-water mark of every arena, not what is in use. Measured in a
16-minute soak (docs/benchmarks.md): the worker's Python objects stayed flat (about 800,000 blocks allocated) while
its anonymous memory grew from 111 to 142 MB, and one ``malloc_trim(0)`` gave 9 MB back at once. The LRS frees
request bodies and validated statements the same way, from the threads of its ClickHouse queries and producer.

Elsewhere (musl, macOS) these calls do nothing: they only concern glibc's allocator.
"""

from __future__ import annotations

import asyncio
import ctypes

M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


_LIBC = _glibc()


def limit_arenas(count: int) -> bool:
    """Let glibc keep at most ``count`` arenas (0: its default); True if set. Call before threads start."""
    if _LIBC is None or count <= 0:
        return False
    return bool(_LIBC.mallopt(M_ARENA_MAX, count))


def trim() -> bool:
    """Hand the free pages of every arena back to the system; True if any were."""
    return _LIBC is not None and bool(_LIBC.malloc_trim(0))


async def trim_every(seconds: float) -> None:
    """:func:`trim` every ``seconds`` (in a thread: it takes the arenas' locks), until cancelled."""
    while True:
        await asyncio.sleep(seconds)
        await asyncio.to_thread(trim)
