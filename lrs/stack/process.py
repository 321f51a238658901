"""Background processes of the local stack: pid files, liveness, stopping, port checks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


class StackError(RuntimeError):
    """The local stack could not be started, with a message saying why and what to do."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something accepts connections on ``host:port``."""
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int, expect: str) -> bool:
    """True if ``pid`` runs and its command line contains ``expect`` (guards against reused pids)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and expect in cmdline


class ManagedProcess:
    """One background service with a pid file under ``<state_dir>/run`` and a log under ``<state_dir>/logs``."""

    def __init__(self, state_dir: Path, name: str, expect: str) -> None:
        self.name = name
        self.expect = expect
        self.pid_file = state_dir / "run" / f"{name}.pid"
        self.log_file = state_dir / "logs" / f"{name}.log"

    def pid(self) -> int | None:
        """The pid of our running process, or None (stale pid files are removed)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid_alive(pid, self.expect):
            return pid
        self.pid_file.unlink(missing_ok=True)
        return None

    def start(self, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
        """Start detached (own session, survives the caller); return the pid."""
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, cwd=cwd, start_new_session=True)
        self.pid_file.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout: float = 15.0, sig: int = signal.SIGTERM) -> bool:
        """Stop our process (SIGTERM, then SIGKILL after ``timeout``); True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, sig)
        deadline = time.monotonic() + timeout
        while pid_alive(pid, self.expect) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid, self.expect):
            os.kill(pid, signal.SIGKILL)
            while pid_alive(pid, self.expect):
                time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_for(check, timeout: float, interval: float = 0.1) -> bool:
    """Poll ``check()`` until true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except Exception:  # the service may still be starting
            pass
        time.sleep(interval)
    return False
