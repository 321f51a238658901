"""Ralph (ralph-malph) as the peer LRS: its own virtualenv, file-system backend, loopback, Basic auth file."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from lrs.tools.bench.env import free_ports, wait_until

RALPH_SPEC = "ralph-malph[lrs]==5.1.0"  # the file-system backend needs no extra; the lrs extra needs requests
BENCH_DIR = Path(__file__).resolve().parent
RALPH_USER, RALPH_PASSWORD = "bench", "bench-secret"


def ensure_venv(venv: Path, log: Path) -> Path:
    """Create ``venv`` with Ralph installed unless it has it already; return its python."""
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import ralph.backends.lrs.fs, requests, bcrypt, uvicorn"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, stdout=out, stderr=out)
        subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", RALPH_SPEC,
                        "requests"], check=True, stdout=out, stderr=out)
    subprocess.run(check, check=True, capture_output=True)
    return python


def ralph_version(python: Path) -> str:
    """The installed ralph-malph version."""
    out = subprocess.run([str(python), "-c", "import importlib.metadata as m; print(m.version('ralph-malph'))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


@dataclass
class RalphServer:
    """A Ralph LRS server: uvicorn with ``workers`` processes (the suite gives it as many as our LRS has)."""

    python: Path
    state_dir: Path
    port: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        self.port = self.port or free_ports(1)[0]
        self.base_url = f"http://127.0.0.1:{self.port}"

    def prepare(self) -> dict[str, str]:
        """Fresh data directory and auth file; return the environment of the server process."""
        data = self.state_dir / "data"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        app_dir = self.state_dir / "app"
        app_dir.mkdir(parents=True, exist_ok=True)
        hashed = subprocess.run(
            [str(self.python), "-c", "import bcrypt,sys; print(bcrypt.hashpw(sys.argv[1].encode(), "
             "bcrypt.gensalt()).decode())", RALPH_PASSWORD], capture_output=True, text=True, check=True).stdout.strip()
        auth = [{"username": RALPH_USER, "hash": hashed, "scopes": ["all"],
                 "agent": {"mbox": "mailto:bench@example.com"}}]
        auth_file = app_dir / "auth.json"
        auth_file.write_text(json.dumps(auth), encoding="utf-8")
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": str(app_dir),
            "RALPH_APP_DIR": str(app_dir),
            "RALPH_AUTH_FILE": str(auth_file),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(data),
            "RALPH_BACKENDS__DATA__FS__DEFAULT_DIRECTORY_PATH": str(data),
            "RALPH_LRS_RESTRICT_BY_AUTHORITY": "False",
        }

    def argv(self) -> list[str]:
        """The uvicorn command serving the wrapped app on loopback."""
        return [str(self.python), "-m", "uvicorn", "ralph_fs_append:app", "--app-dir", str(BENCH_DIR),
                "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--no-access-log",
                "--workers", str(self.workers)]

    def written(self) -> int:
        """Statements in Ralph's store: JSON lines in the files of its data directory."""
        total = 0
        for path in (self.state_dir / "data").rglob("*"):
            if path.is_file():
                with open(path, "rb") as data:
                    total += sum(chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 20), b""))
        return total

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until Ralph answers its heartbeat."""
        wait_until(lambda: httpx.get(f"{self.base_url}/__heartbeat__", timeout=1).status_code == 200, timeout,
                   what="Ralph to answer")

    def smoke(self) -> None:
        """Consecutive POSTs must all succeed (the second fails without the APPEND wrapper); one per worker
        and more, so every worker process has written once."""
        import uuid

        for _ in range(2 * max(1, self.workers)):
            statement = {"id": str(uuid.uuid4()), "actor": {"mbox": "mailto:smoke@example.com"},
                         "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                         "object": {"id": "https://example.com/smoke"},
                         "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())}
            response = httpx.post(f"{self.base_url}/xAPI/statements", json=[statement],
                                  auth=(RALPH_USER, RALPH_PASSWORD), timeout=30,
                                  headers={"X-Experience-API-Version": "1.0.3"})
            if response.status_code != 200:
                raise RuntimeError(f"Ralph refused a statement: {response.status_code} {response.text[:300]}")
