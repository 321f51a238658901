"""Produced offsets shared by every LRS process on one host, for read-your-writes across processes.

A client may POST to one ``lrs serve`` process and GET from another (``--workers N`` behind one
socket). Each process records the highest offset the broker acknowledged per partition in its own
small file (one 8-byte slot per partition, written in place: a single writer needs no lock);
readers take the maximum over all files. Slots only grow, so a stale file of a dead process is
harmless; it is removed at the next start-up. Processes on different hosts do not share this, so a
load balancer in front of several hosts should route a client to one host (see docs/deployment.md).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

SLOTS = 256  # partitions per topic this board can track
_SLOT = struct.Struct("<q")


class ProducedBoard:
    """This process's acknowledged offsets, written to a per-process file; read across processes."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self._remove_dead()
        self.path = directory / f"{os.getpid()}.bin"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        os.pwrite(self._fd, _SLOT.pack(-1) * SLOTS, 0)

    def _remove_dead(self) -> None:
        for file in self.directory.glob("*.bin"):
            try:
                os.kill(int(file.stem), 0)
            except (ValueError, ProcessLookupError):
                file.unlink(missing_ok=True)
            except PermissionError:  # alive, owned by someone else
                pass

    def record(self, offsets: dict[int, int]) -> None:
        """Publish this process's highest acknowledged offsets (partition -> offset)."""
        for partition, offset in offsets.items():
            if 0 <= partition < SLOTS:
                os.pwrite(self._fd, _SLOT.pack(offset), partition * _SLOT.size)

    def read(self) -> dict[int, int]:
        """The highest offset per partition acknowledged to any live or past process on this host."""
        highest: dict[int, int] = {}
        for file in self.directory.glob("*.bin"):
            try:
                data = file.read_bytes()
            except FileNotFoundError:  # removed by a starting process meanwhile
                continue
            for partition, (offset,) in enumerate(_SLOT.iter_unpack(data[: SLOTS * _SLOT.size])):
                if offset > highest.get(partition, -1):
                    highest[partition] = offset
        return highest

    def close(self) -> None:
        """Close the file (it stays, so other processes still wait for what this one produced)."""
        os.close(self._fd)
