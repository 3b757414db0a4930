"""Every `lanner` command and every option or argument says what it is for (--help)."""

from __future__ import annotations

from typing import Any

import typer.main

from api.cli.main import app


def _walk(command: Any, path: str) -> list[tuple[str, Any]]:
    # Duck-typed: typer vendors its own click, whose Group is not click.Group.
    found = [(path, command)]
    if hasattr(command, "commands"):
        for name, child in command.commands.items():
            found += _walk(child, f"{path} {name}")
    return found


def test_every_command_option_and_argument_has_help() -> None:
    root = typer.main.get_command(app)
    missing: list[str] = []
    walked = _walk(root, "lanner")
    assert len(walked) > 40, "the walk must reach the sub-commands"
    for path, command in walked:
        if command.hidden:
            continue
        if not (command.help or command.short_help):
            missing.append(f"{path}: no help text")
        for param in command.params:
            if param.name == "help":
                continue
            text = getattr(param, "help", None)
            if not text:
                missing.append(f"{path} {param.name}: no help text")
    assert not missing, "\n".join(missing)
