"""requirements.lock (exact versions for setup.sh, CI and the Dockerfile) covers pyproject.toml: no drift."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)$")


def _lock() -> dict[str, str]:
    """Package name -> pinned version; fails on any line that is not a comment, a hash or an exact pin."""
    pins: dict[str, str] = {}
    for number, raw in enumerate((ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip().rstrip("\\").strip()
        if not line or line.startswith("--hash"):
            continue
        match = PIN.match(line)
        assert match, f"requirements.lock:{number}: not an exact pin: {raw!r}"
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins


def _declared() -> list[tuple[str, Requirement]]:
    """Every requirement of pyproject.toml: the dependencies and each extra's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [("dependencies", Requirement(r)) for r in project["dependencies"]]
    for extra, reqs in project.get("optional-dependencies", {}).items():
        found += [(extra, Requirement(r)) for r in reqs]
    return found


def test_lock_pins_every_declared_dependency_within_its_range() -> None:
    pins = _lock()
    problems = []
    for where, req in _declared():
        version = pins.get(canonicalize_name(req.name))
        if version is None:
            problems.append(f"{req.name} ({where}) is not in requirements.lock")
        elif not req.specifier.contains(version, prereleases=True):
            problems.append(f"{req.name} ({where}): the lock pins {version}, outside {req.specifier}")
    assert not problems, "; ".join(problems) + ": regenerate the lock (docs/deployment.md, 'The lock file')"


def test_lock_is_generated_for_every_extra() -> None:
    header = (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()[:3]
    assert any("pip compile pyproject.toml --all-extras" in line for line in header), header
