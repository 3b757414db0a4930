"""What every script task shares: env, files, beforeCommands, the run and its outcome."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator

from schemas.states import State
from streams.core.folder_variables import SCRIPT_VARIABLES
from streams.core.type_names import closest_type_names
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.namespace.working_files import NamespaceFiles, materialise
from streams.plugins.scripts.files import (
    FilesError,
    collect_output_dir,
    collect_output_files,
    make_workdir,
    output_dir,
    parse_input_files,
    remove_workdir,
    write_input_files,
)
from streams.plugins.scripts.process import InterpreterNotFound, run_process

KESTRA_SCRIPTS = "io.kestra.plugin.scripts"
# Kestra's `kestra` helper library (our own implementation), importable by every script.
HELPER_PATH = str(Path(__file__).parent / "pythonpath")
# The only task runner there is here: Kestra's name for running commands on the host.
PROCESS_RUNNERS = ("io.kestra.plugin.core.runner.Process", "runner.Process")


class ScriptTask(WorkerTask):
    """Kestra's script task properties that mean something without containers.

    Commands always run as local processes (Kestra's `Process` runner): a `taskRunner` of
    that type is accepted, any other (Docker, Kubernetes, a cloud batch service) is a
    validation error rather than a flow that would silently run on the host instead.
    `containerImage` and `docker` are accepted and ignored, as Kestra's Process runner does.
    Its properties may use `{{ workingDir }}` (the task's folder, also $WORKING_DIR) and
    `{{ outputDir }}` (a folder in it whose files are output files, also $OUTPUT_DIR when
    `outputDirectory` is true), as with Kestra's Process runner.
    """

    FOLDER_VARIABLES: ClassVar[frozenset[str]] = SCRIPT_VARIABLES

    beforeCommands: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    inputFiles: dict[str, str] | str | None = None
    namespaceFiles: NamespaceFiles | None = None
    outputFiles: list[str] = Field(default_factory=list)
    interpreter: list[str] = Field(default_factory=lambda: ["/bin/sh", "-c"])
    failFast: bool = True
    warningOnStdErr: bool = False
    # Kestra's (deprecated) switch for `{{ outputDir }}`; here using the variable is enough.
    outputDirectory: bool = False
    taskRunner: dict[str, Any] | None = None
    containerImage: str | None = None
    docker: dict[str, Any] | None = None

    @field_validator("taskRunner")
    @classmethod
    def _runner_runs_here(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        runner = value.get("type")
        if runner in PROCESS_RUNNERS:
            return value
        if not isinstance(runner, str):
            raise ValueError(f"a task runner needs a `type` ({PROCESS_RUNNERS[0]})")
        message = (
            f"unsupported task runner type '{runner}': scripts run here as local "
            f"processes ({PROCESS_RUNNERS[0]})"
        )
        near = closest_type_names(runner, dict.fromkeys(PROCESS_RUNNERS, "Process"), 1)
        raise ValueError(message + (f"; did you mean {near[0]}?" if near else ""))

    async def prepare(self, ctx: WorkerContext, workdir: Path, env: dict[str, str]) -> list[str]:
        """The command lines to run (after beforeCommands); may write files, build venvs."""
        raise NotImplementedError

    def base_env(self, ctx: WorkerContext, workdir: Path) -> dict[str, str]:
        env = {k: v for k, v in ctx.env.items() if not k.startswith("LANNER_")}
        env.setdefault("PATH", os.defpath)
        env.update({"WORKING_DIR": str(workdir), "PYTHONUNBUFFERED": "1"})
        outputs_folder = output_dir(workdir, self.id)
        if outputs_folder.is_dir():
            env["OUTPUT_DIR"] = str(outputs_folder)
        # `from kestra import Kestra` works without a pip install (a Python task that lists
        # `kestra` in its dependencies gets pip's instead: see python.py).
        known = env.get("PYTHONPATH")
        env["PYTHONPATH"] = os.pathsep.join([*([known] if known else []), HELPER_PATH])
        env.update(self.env)
        return env

    async def run(self, ctx: WorkerContext) -> Outcome:
        workdir = make_workdir(ctx)
        try:
            return await self._run_in(ctx, workdir)
        except (FilesError, InterpreterNotFound) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        finally:
            remove_workdir(workdir, ctx)

    async def _run_in(self, ctx: WorkerContext, workdir: Path) -> Outcome:
        # Namespace files first, so that an input file of the same name wins (Kestra).
        await materialise(ctx, workdir, self.namespaceFiles)
        await write_input_files(ctx, workdir, parse_input_files(self.inputFiles))
        if self.outputDirectory:
            output_dir(workdir, self.id).mkdir(exist_ok=True)
        env = self.base_env(ctx, workdir)
        commands = await self.prepare(ctx, workdir, env)
        lines = [*(["set -e"] if self.failFast else []), *self.beforeCommands, *commands]
        result = await run_process([*self.interpreter, "\n".join(lines)], workdir, env, ctx)
        outputs: dict[str, Any] = {"exitCode": result.exit_code, "vars": result.outputs}
        metrics = tuple(result.metrics)
        if result.exit_code != 0:
            return Outcome(
                State.FAILED,
                outputs,
                error=f"task {self.id}: command exited with code {result.exit_code}",
                metrics=metrics,
            )
        if result.protocol_errors:
            error = f"task {self.id}: {result.protocol_errors[0]}"
            return Outcome(State.FAILED, outputs, error=error, metrics=metrics)
        outputs["outputFiles"] = {
            **await collect_output_files(ctx, workdir, self.outputFiles),
            **await collect_output_dir(ctx, output_dir(workdir, self.id)),
        }
        warn = self.warningOnStdErr and result.stderr_lines > 0
        return Outcome(State.WARNING if warn else State.SUCCESS, outputs, metrics=metrics)
