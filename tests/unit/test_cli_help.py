"""Help text that matches the code: every command documents itself, and the README's CLI table names every
command with options that exist."""

from __future__ import annotations

import re

import typer

from lrs.tools.cli import app
from tests.support import ROOT


def _commands() -> dict[str, object]:
    """Every runnable command by its path (``"credentials list"``), from the real command tree."""
    found: dict[str, object] = {}

    def walk(group, prefix: str) -> None:  # noqa: ANN001 - click groups
        for name, command in group.commands.items():
            path = f"{prefix}{name}"
            if hasattr(command, "commands"):
                walk(command, path + " ")
            else:
                found[path] = command

    walk(typer.main.get_command(app), "")
    return found


def _cli_table() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## The CLI", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `lrs ")]


def test_every_command_has_help() -> None:
    for path, command in _commands().items():
        assert (command.help or "").strip(), path
        for param in command.params:
            if param.param_type_name == "option" and param.name != "help":
                assert (param.help or "").strip(), (path, param.name)


def test_readme_names_every_command_with_real_options() -> None:
    commands, rows = _commands(), _cli_table()
    for path in commands:
        group, _, name = path.rpartition(" ")
        named = [row for row in rows if f"`lrs {path}" in row
                 or (group and f"`lrs {group} " in row and f"`{name}" in row)]
        assert named, f"README's CLI table lacks `lrs {path}`"
    for row in rows:
        for segment in re.findall(r"`(lrs [^`]+)`", row):
            words = segment.split()[1:]
            # The command is the longest run of leading words that names one ("credentials list").
            path = next((" ".join(words[:n]) for n in (2, 1) if " ".join(words[:n]) in commands), "")
            command = commands.get(path)
            assert command is not None, segment
            options = {opt for p in command.params for opt in p.opts} | {"--help"}
            for option in re.findall(r"--[a-z][a-z-]*", segment):
                assert option in options or path == "bench", (segment, option)
