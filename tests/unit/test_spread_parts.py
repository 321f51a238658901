"""ext4's top-directory flag on the embedded ClickHouse's table directories (lrs/tools/stack/clickhouse.py)."""

from __future__ import annotations

import fcntl
import os
import shutil
import struct
from pathlib import Path

import pytest

from lrs.tools.stack import clickhouse

TOPDIR = 0x00020000


def _flags(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = bytearray(4)
        fcntl.ioctl(fd, 0x80086601, buf, True)
        return struct.unpack("i", buf)[0]
    finally:
        os.close(fd)


def _supports_topdir(where: Path) -> bool:
    """Whether ``where``'s file system keeps the flag (set here with the ioctl itself, not the code under test)."""
    probe = where / "probe"
    probe.mkdir()
    fd = os.open(probe, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.ioctl(fd, 0x40086602, bytearray(struct.pack("i", _flags(probe) | TOPDIR)), True)
    except OSError:
        return False
    finally:
        os.close(fd)
    return bool(_flags(probe) & TOPDIR)


def _tables(state_dir: Path, *names: str) -> list[Path]:
    dirs = [clickhouse.home(state_dir) / "data" / "data" / name for name in names]
    for d in dirs:
        d.mkdir(parents=True)
    return dirs


def test_marks_each_table_directory_once(tmp_path: Path) -> None:
    if not _supports_topdir(tmp_path):
        pytest.skip("this file system has no top-directory flag")
    tables = _tables(tmp_path, "lrs/statements", "lrs/statement_ids", "system/query_log")
    (tables[0] / "all_1_1_0").mkdir()  # a part: not marked, only its table
    assert clickhouse.spread_parts(tmp_path) == 3
    assert all(_flags(t) & TOPDIR for t in tables)
    assert not _flags(tables[0] / "all_1_1_0") & TOPDIR
    assert not _flags(tables[0].parent) & TOPDIR  # the database directory is left alone
    assert clickhouse.spread_parts(tmp_path) == 0, "a second run finds every table marked"
    (tables[0].parent / "new_table").mkdir()
    assert clickhouse.spread_parts(tmp_path) == 1, "a table created later is marked by the next run"


def test_no_clickhouse_or_no_flags_is_not_an_error(tmp_path: Path) -> None:
    assert clickhouse.spread_parts(tmp_path) == 0  # no server home yet
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no tmpfs at /dev/shm")
    state = shm / f"lrs-spread-{os.getpid()}"
    try:
        _tables(state, "lrs/statements")
        assert clickhouse.spread_parts(state) == 0  # tmpfs has no such flag: left as it is
    finally:
        shutil.rmtree(state, ignore_errors=True)
