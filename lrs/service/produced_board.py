"""Produced offsets shared by every LRS process on one host, per tenant, for read-your-writes across processes.

A client may POST to one ``lrs serve`` process and GET from another (``--workers N`` behind one
socket). Each process records, per tenant bucket, the highest offset the broker acknowledged per partition
in its own file (one 8-byte slot per bucket and partition, written in place: a single writer needs no
lock); readers take the maximum over all files of their tenant's bucket only, so a GET waits for what its
own tenant wrote, not for another tenant's burst. Tenants are hashed into ``BUCKETS`` buckets: two tenants
sharing one merely wait for each other's writes too (still correct). Slots only grow, so a stale file of a
dead process is harmless; it is removed at the next start-up. Processes on different hosts do not share
this, so a load balancer in front of several hosts should route a client to one host (docs/deployment.md).

The file is sparse (``ftruncate``): a slot holds offset + 1, so the zeros of an untouched slot mean "none".
"""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

SLOTS = 256  # partitions per topic this board can track
BUCKETS = 1024  # tenant buckets
_SLOT = struct.Struct("<q")
_BUCKET_BYTES = SLOTS * _SLOT.size
VERSION = "v2"  # file name suffix: boards of the earlier (tenant-less) layout are ignored and removed


def tenant_bucket(tenant: str) -> int:
    """The bucket of a tenant (stable across processes and restarts)."""
    return int.from_bytes(hashlib.blake2b(tenant.encode(), digest_size=4).digest(), "little") % BUCKETS


class ProducedBoard:
    """This process's acknowledged offsets per tenant bucket, written to a per-process file; read across processes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_dead()
        self.path = directory / f"{os.getpid()}.{VERSION}.bin"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.ftruncate(self._fd, BUCKETS * _BUCKET_BYTES)
        self._mine: dict[tuple[int, int], int] = {}  # (bucket, partition) -> highest offset written

    def _remove_dead(self) -> None:
        for file in self.directory.glob("*.bin"):
            pid, _, layout = file.name.removesuffix(".bin").partition(".")
            try:
                if layout != VERSION:
                    raise ValueError(layout)
                os.kill(int(pid), 0)
            except (ValueError, ProcessLookupError):
                file.unlink(missing_ok=True)
            except PermissionError:  # alive, owned by someone else
                pass

    def record(self, tenant: str, offsets: dict[int, int]) -> None:
        """Publish offsets acknowledged for ``tenant`` (partition -> offset); callers serialize calls."""
        bucket = tenant_bucket(tenant)
        for partition, offset in offsets.items():
            # Another tenant of the bucket may have written a higher offset already: slots never go down.
            if 0 <= partition < SLOTS and offset > self._mine.get((bucket, partition), -1):
                self._mine[(bucket, partition)] = offset
                os.pwrite(self._fd, _SLOT.pack(offset + 1), bucket * _BUCKET_BYTES + partition * _SLOT.size)

    def read(self, tenant: str) -> dict[int, int]:
        """The highest offset per partition acknowledged for ``tenant``'s bucket to any process on this host."""
        start = tenant_bucket(tenant) * _BUCKET_BYTES
        highest: dict[int, int] = {}
        for file in self.directory.glob(f"*.{VERSION}.bin"):
            try:
                fd = os.open(file, os.O_RDONLY)
            except FileNotFoundError:  # removed by a starting process meanwhile
                continue
            try:
                data = os.pread(fd, _BUCKET_BYTES, start)
            finally:
                os.close(fd)
            for partition, (stored,) in enumerate(_SLOT.iter_unpack(data[: len(data) // _SLOT.size * _SLOT.size])):
                if stored - 1 > highest.get(partition, -1):
                    highest[partition] = stored - 1
        return highest

    def close(self) -> None:
        """Close the file (it stays, so other processes still wait for what this one produced)."""
        os.close(self._fd)
