"""The per-host board of produced offsets used for read-your-writes across LRS processes, per tenant bucket."""

from __future__ import annotations

import os
from pathlib import Path

from lrs.service.produced_board import BUCKETS, SLOTS, ProducedBoard, tenant_bucket


def _tenants_in_distinct_buckets(count: int) -> list[str]:
    found: dict[int, str] = {}
    i = 0
    while len(found) < count:
        found.setdefault(tenant_bucket(f"tenant{i}"), f"tenant{i}")
        i += 1
    return list(found.values())


def test_readers_see_the_maximum_over_processes(tmp_path: Path) -> None:
    (tenant,) = _tenants_in_distinct_buckets(1)
    mine = ProducedBoard(tmp_path)
    mine.record(tenant, {0: 5, 3: 7})
    # Another live process's file (our parent is alive, so its file survives start-up clean-up); slots hold
    # offset + 1, 0 = none.
    other = tmp_path / f"{os.getppid()}.v2.bin"
    slots = [0] * (BUCKETS * SLOTS)
    base = tenant_bucket(tenant) * SLOTS
    slots[base], slots[base + 1] = 10, 3
    other.write_bytes(b"".join(s.to_bytes(8, "little", signed=True) for s in slots))
    assert mine.read(tenant) == {0: 9, 1: 2, 3: 7}
    mine.close()


def test_a_tenant_reads_only_its_own_offsets(tmp_path: Path) -> None:
    quiet, busy = _tenants_in_distinct_buckets(2)
    board = ProducedBoard(tmp_path)
    board.record(busy, {0: 1000, 1: 2000})
    assert board.read(quiet) == {}
    board.record(quiet, {1: 5})
    assert board.read(quiet) == {1: 5}
    assert board.read(busy) == {0: 1000, 1: 2000}
    board.close()


def test_slots_never_go_down_when_tenants_share_a_bucket(tmp_path: Path) -> None:
    first = "tenant-a"
    second = next(f"b{i}" for i in range(100_000) if tenant_bucket(f"b{i}") == tenant_bucket(first))
    board = ProducedBoard(tmp_path)
    board.record(first, {0: 10})
    board.record(second, {0: 8})
    assert board.read(first) == board.read(second) == {0: 10}
    board.close()


def test_files_of_dead_processes_and_old_layouts_are_removed_at_start(tmp_path: Path) -> None:
    dead = tmp_path / "999999999.v2.bin"
    dead.write_bytes(b"\x00" * 8)
    old_layout = tmp_path / f"{os.getppid()}.bin"
    old_layout.write_bytes(b"\x00" * 8)
    board = ProducedBoard(tmp_path)
    assert not dead.exists() and not old_layout.exists()
    assert board.read("t") == {}
    board.record("t", {2: 4})
    assert board.read("t") == {2: 4}
    board.close()
