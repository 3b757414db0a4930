"""io.kestra.plugin.scripts.python.Script and .Commands.

The interpreter is the worker's own (`sys.executable`) unless `python` names another;
`dependencies` are installed into a cached venv built from that interpreter, whose `bin`
comes first on PATH, so `python` in Commands is the venv's.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from streams.plugins.base import WorkerContext
from streams.plugins.scripts.common import HELPER_PATH, KESTRA_SCRIPTS, ScriptTask
from streams.plugins.scripts.process import InterpreterNotFound
from streams.plugins.scripts.venvs import VenvError, ensure_venv

_SCRIPT_NAME = "__lanner_script__.py"


class _PythonTask(ScriptTask):
    python: str | None = None
    dependencies: list[str] = Field(default_factory=list)
    # Kestra picks a version with uv; here it is a hint only (use `python` to choose).
    pythonVersion: str | None = None

    def interpreter_path(self) -> str:
        wanted = self.python or sys.executable
        found = shutil.which(wanted)
        if found is None:
            raise InterpreterNotFound(f"python interpreter {wanted!r} was not found")
        return found

    async def python_command(self, ctx: WorkerContext, env: dict[str, str]) -> str:
        python = self.interpreter_path()
        if self.dependencies:
            try:
                venv = await ensure_venv(ctx, python, self.dependencies, env)
            except VenvError as exc:
                raise InterpreterNotFound(str(exc)) from None
            python = str(venv / "bin" / "python")
            if any(re.match(r"kestra\b(?![-.])", dep.strip()) for dep in self.dependencies):
                # The flow asked for PyPI's `kestra`: ours must not shadow it.
                paths = env.get("PYTHONPATH", "").split(os.pathsep)
                env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p != HELPER_PATH)
        bin_dir = str(Path(python).parent)
        env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", os.defpath)])
        return python


class PythonScript(_PythonTask):
    """Runs a Python script with the worker's (or a given) interpreter."""

    TYPE: ClassVar[str] = "scripts.python.Script"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.python.Script",)
    script: str

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        python = await self.python_command(ctx, env)
        (workdir / _SCRIPT_NAME).write_text(self.script)
        return [f"{shlex.quote(python)} {_SCRIPT_NAME}"]


class PythonCommands(_PythonTask):
    """Runs commands with that Python first on PATH (`python script.py`...)."""

    TYPE: ClassVar[str] = "scripts.python.Commands"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.python.Commands",)
    commands: list[str]

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        await self.python_command(ctx, env)
        return list(self.commands)
