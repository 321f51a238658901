"""Detached background processes tracked by pid files (``<state_dir>/run/NAME.pid``).

A pid file holds three lines: the pid, the process start time (clock ticks since boot, field 22 of
``/proc/PID/stat``) and the executable it was started with. A pid is only treated as ours while
``/proc/PID/cmdline`` still names that executable and the start time matches, so a recycled pid that now
belongs to someone else is never signalled.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PID_SUFFIX = ".pid"
LOG_MARKER = "----- lrs stack:"

# Popen objects of children started by this interpreter, so that stopped children are reaped (no zombies
# left behind in long test sessions) and their exit codes can be reported.
_children: dict[int, subprocess.Popen[bytes]] = {}


class StackError(RuntimeError):
    """The local stack cannot reach the requested state; the message says why and what to do."""


@dataclass(frozen=True)
class Tracked:
    """A process recorded in a pid file."""

    name: str
    pid: int
    start_ticks: int | None
    executable: str


def pid_path(run_dir: Path, name: str) -> Path:
    """The pid file of ``name``."""
    return run_dir / f"{name}{PID_SUFFIX}"


def tracked_names(run_dir: Path) -> list[str]:
    """Names of all processes with a pid file, sorted."""
    if not run_dir.is_dir():
        return []
    return sorted(p.name[: -len(PID_SUFFIX)] for p in run_dir.glob(f"*{PID_SUFFIX}"))


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start ticks) of a pid, or None if there is no such process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[19])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def read_tracked(run_dir: Path, name: str) -> Tracked | None:
    """The record in ``name``'s pid file, or None if there is none or it is unreadable."""
    try:
        lines = pid_path(run_dir, name).read_text().splitlines()
        pid = int(lines[0])
    except (OSError, ValueError, IndexError):
        return None
    ticks = int(lines[1]) if len(lines) > 1 and lines[1].strip().isdigit() else None
    executable = lines[2].strip() if len(lines) > 2 else ""
    return Tracked(name, pid, ticks, executable)


def pid_exists(pid: int) -> bool:
    """Whether a live (not zombie) process with this pid exists, whatever it runs."""
    stat = _proc_stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def is_alive(tracked: Tracked) -> bool:
    """Whether the recorded pid still runs the recorded executable (and is the same process instance)."""
    stat = _proc_stat(tracked.pid)
    if stat is None or stat[0] in ("Z", "X"):  # gone, or a zombie nobody reaped (orphans under some inits)
        return False
    if tracked.start_ticks is not None and stat[1] != tracked.start_ticks:
        return False  # the pid was recycled
    argv = _cmdline(tracked.pid)
    if not argv:
        return False  # kernel thread or exiting
    return not tracked.executable or os.path.basename(argv[0]) == os.path.basename(tracked.executable)


def running(run_dir: Path, name: str) -> Tracked | None:
    """The live process recorded for ``name``, or None."""
    tracked = read_tracked(run_dir, name)
    return tracked if tracked is not None and is_alive(tracked) else None


def exit_code(pid: int) -> int | None:
    """The exit code of a child of this interpreter that has ended, if known."""
    proc = _children.get(pid)
    return proc.poll() if proc is not None else None


def child_running(pid: int) -> bool:
    """Whether ``pid`` is a child this interpreter started that has not ended."""
    proc = _children.get(pid)
    return proc is not None and proc.poll() is None


def _reap(pid: int) -> None:
    proc = _children.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1)


def start_detached(
    name: str,
    argv: Sequence[str],
    *,
    run_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Tracked:
    """Start ``argv`` in its own session (it outlives this process), output appended to ``log_path``.

    Writes the pid file and returns its record. Raises StackError if the program cannot be executed.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        # A marker per start, so a log tail shows the latest run and restarts are visible in the log.
        log.write(f"\n{LOG_MARKER} starting {name} at {time.strftime('%Y-%m-%d %H:%M:%S')}: "
                  f"{' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(env) if env is not None else None, cwd=cwd, start_new_session=True)
        except OSError as exc:
            raise StackError(f"cannot start {name} ({argv[0]}): {exc}") from exc
    _children[proc.pid] = proc
    stat = _proc_stat(proc.pid)
    tracked = Tracked(name, proc.pid, stat[1] if stat else None, argv[0])
    path = pid_path(run_dir, name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{tracked.pid}\n{tracked.start_ticks if tracked.start_ticks is not None else ''}\n"
                   f"{tracked.executable}\n")
    tmp.replace(path)  # atomic: readers never see a half-written pid file
    return tracked


def _signal(tracked: Tracked, sig: int) -> None:
    try:
        # Signal the whole session's process group (e.g. uvicorn workers) while the pid still leads the group
        # we created; otherwise only the pid itself.
        if os.getpgid(tracked.pid) == tracked.pid:
            os.killpg(tracked.pid, sig)
        else:
            os.kill(tracked.pid, sig)
    except ProcessLookupError:
        pass


def _wait_gone(tracked: Tracked, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        proc = _children.get(tracked.pid)
        if proc is not None and proc.poll() is not None:
            return True
        if not is_alive(tracked):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def stop(run_dir: Path, name: str, timeout: float = 15.0, sig: int = signal.SIGTERM) -> bool:
    """Stop ``name`` with ``sig`` (SIGTERM), then SIGKILL after ``timeout`` seconds; remove its pid file.

    Returns True if a live process of ours was stopped. A pid file whose pid is gone or now belongs to
    another program is just removed.
    """
    tracked = read_tracked(run_dir, name)
    stopped = False
    if tracked is not None and is_alive(tracked):
        _signal(tracked, sig)
        if not _wait_gone(tracked, timeout):
            _signal(tracked, signal.SIGKILL)
            _wait_gone(tracked, 10.0)
        _reap(tracked.pid)
        stopped = True
    pid_path(run_dir, name).unlink(missing_ok=True)
    return stopped


def stop_all(run_dir: Path, names: Sequence[str], timeout: float = 30.0, sig: int = signal.SIGTERM) -> None:
    """Stop several processes together: ``sig`` to all, then SIGKILL to those left after ``timeout`` seconds."""
    live = [t for t in (read_tracked(run_dir, n) for n in names) if t is not None and is_alive(t)]
    for tracked in live:
        _signal(tracked, sig)
    deadline = time.monotonic() + timeout
    for tracked in live:
        if not _wait_gone(tracked, max(0.0, deadline - time.monotonic())):
            _signal(tracked, signal.SIGKILL)
            _wait_gone(tracked, 10.0)
        _reap(tracked.pid)
    for name in names:
        pid_path(run_dir, name).unlink(missing_ok=True)


def kill(run_dir: Path, name: str) -> bool:
    """SIGKILL ``name`` (a crash, for tests), wait until it is gone and remove its pid file."""
    tracked = read_tracked(run_dir, name)
    killed = False
    if tracked is not None and is_alive(tracked):
        _signal(tracked, signal.SIGKILL)
        _wait_gone(tracked, 10.0)
        _reap(tracked.pid)
        killed = True
    pid_path(run_dir, name).unlink(missing_ok=True)
    return killed


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now on 127.0.0.1 (held open together so they differ)."""
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        socks.append(sock)
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def free_port_run(count: int, exclude: Sequence[int] = ()) -> int:
    """The first of ``count`` consecutive ports free right now on 127.0.0.1 (a Kafka cluster's listeners)."""
    for _ in range(200):
        first = free_ports(1)[0]
        ports = range(first, first + count)
        if first + count <= 65535 and not set(ports) & set(exclude) and not any(map(port_in_use, ports)):
            return first
    raise StackError(f"no run of {count} free ports found on 127.0.0.1")


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether binding ``host:port`` fails because something else holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same option the servers use, so connections in TIME_WAIT from a previous run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _listener(port: int) -> str:
    """Best effort: 'pid N (name)' of the process listening on ``port``, or ''."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return ""
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            for fd in (proc_dir / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    comm = (proc_dir / "comm").read_text().strip()
                    return f"pid {proc_dir.name} ({comm})"
        except OSError:
            continue
    return ""


def ensure_port_free(port: int, setting: str, host: str = "127.0.0.1") -> None:
    """Raise StackError naming the port and the setting to change if ``host:port`` is taken."""
    try:
        taken = port_in_use(port, host)
    except OSError as exc:
        raise StackError(f"cannot bind {host}:{port} ({exc}); choose another port with the setting {setting} "
                         f"(environment variable LRS_{setting.upper()})") from exc
    if taken:
        holder = _listener(port)
        holder = f" by {holder}" if holder else ""
        raise StackError(
            f"port {port} on {host} is already in use{holder}, not by a process this stack started; "
            f"stop that process or choose another port with the setting {setting} "
            f"(environment variable LRS_{setting.upper()})"
        )


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``path`` written since the latest start marker ('' if none)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    marker = text.rfind(LOG_MARKER)
    if marker >= 0:
        text = text[marker:].split("\n", 1)[1] if "\n" in text[marker:] else ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
