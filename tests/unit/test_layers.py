"""The package layering (docs/architecture.md, "The code's layout"), enforced by import-linter's contracts in
pyproject.toml: the core imports nothing above it, the workers (``streams``) depend only on the core, and the
HTTP service imports neither the workers nor the tools."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
                          timeout=120)


def test_the_code_keeps_every_layering_contract() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 kept, 0 broken" in done.stdout


def test_a_core_module_importing_the_service_breaks_the_contract(tmp_path: Path) -> None:
    """The same check on a copy of the tree where the core imports the HTTP service: it must fail."""
    for name in ("lrs", "streams"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    config = tmp_path / "lrs" / "core" / "config.py"
    config.write_text(config.read_text() + "\nimport lrs.service.publisher  # noqa\n")
    done = _lint(tmp_path)
    assert done.returncode != 0
    assert "The core imports nothing above it BROKEN" in done.stdout
