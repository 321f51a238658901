"""The per-host board of produced offsets used for read-your-writes across LRS processes."""

from __future__ import annotations

import os
from pathlib import Path

from lrs.service.produced_board import ProducedBoard


def test_readers_see_the_maximum_over_processes(tmp_path: Path) -> None:
    mine = ProducedBoard(tmp_path)
    mine.record({0: 5, 3: 7})
    # Another live process's file (our parent is alive, so its file survives start-up clean-up).
    other = tmp_path / f"{os.getppid()}.bin"
    slots = [-1] * 256
    slots[0], slots[1] = 9, 2
    other.write_bytes(b"".join(s.to_bytes(8, "little", signed=True) for s in slots))
    assert mine.read() == {0: 9, 1: 2, 3: 7}
    mine.close()


def test_files_of_dead_processes_are_removed_at_start(tmp_path: Path) -> None:
    dead = tmp_path / "999999999.bin"
    dead.write_bytes(b"\x00" * 8)
    board = ProducedBoard(tmp_path)
    assert not dead.exists()
    assert board.read() == {}
    board.record({2: 4})
    assert board.read() == {2: 4}
    board.close()
