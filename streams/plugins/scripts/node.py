"""io.kestra.plugin.scripts.node.Script and .Commands: Node.js on the worker's PATH.

`require("@kestra-io/libs")` finds our implementation of Kestra's helper library on
NODE_PATH (after any NODE_PATH the worker has), so a script reports outputs, metrics and
logs without an npm install. A worker without `node` fails the task run saying so.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path
from typing import ClassVar

from streams.plugins.base import WorkerContext
from streams.plugins.scripts.common import KESTRA_SCRIPTS, ScriptTask
from streams.plugins.scripts.process import InterpreterNotFound

NODE_HELPER_PATH = str(Path(__file__).parent / "nodepath")
_SCRIPT_NAME = "__lanner_script__.js"


class _NodeTask(ScriptTask):
    def node_env(self, env: dict[str, str]) -> str:
        """The `node` the task runs (found on the task's PATH), with NODE_PATH set."""
        node = shutil.which("node", path=env.get("PATH", os.defpath))
        if node is None:
            raise InterpreterNotFound(
                f"node was not found on this worker's PATH ({env.get('PATH', os.defpath)}): "
                "install Node.js on the worker to run node tasks"
            )
        known = env.get("NODE_PATH")
        env["NODE_PATH"] = os.pathsep.join([*([known] if known else []), NODE_HELPER_PATH])
        return node


class NodeScript(_NodeTask):
    """Runs an inline Node.js script (saved to a .js file and run with `node`)."""

    TYPE: ClassVar[str] = "scripts.node.Script"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.node.Script",)
    script: str

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        node = self.node_env(env)
        (workdir / _SCRIPT_NAME).write_text(self.script)
        return [f"{shlex.quote(node)} {_SCRIPT_NAME}"]


class NodeCommands(_NodeTask):
    """Runs commands (`node main.js`, `npm ...`) with Node.js checked to be on PATH."""

    TYPE: ClassVar[str] = "scripts.node.Commands"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{KESTRA_SCRIPTS}.node.Commands",)
    commands: list[str]

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        self.node_env(env)
        return list(self.commands)
