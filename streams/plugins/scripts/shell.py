"""io.kestra.plugin.scripts.shell.Commands and .Script."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from streams.plugins.base import WorkerContext
from streams.plugins.scripts.common import KESTRA_SCRIPTS, ScriptTask


class ShellCommands(ScriptTask):
    """Runs shell commands, one after the other, in a fresh working directory."""

    TYPE: ClassVar[str] = "scripts.shell.Commands"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.shell.Commands",)
    commands: list[str]

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        return list(self.commands)


class ShellScript(ScriptTask):
    """Runs a multi-line shell script in a fresh working directory."""

    TYPE: ClassVar[str] = "scripts.shell.Script"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.shell.Script",)
    script: str

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        return [self.script]
