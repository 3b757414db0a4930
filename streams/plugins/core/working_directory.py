"""The WorkingDirectory flowable's model, and what it does around its tasks on a worker:
cache restored, `inputFiles` written before them; `outputFiles` stored and the cache
saved after them (Kestra's preExecuteTasks and postExecuteTasks).

How it runs (the executor dispatches it whole, the worker runs its tasks one after the
other in one folder, and its report becomes a task run per task) is told in
streams/core/working_directory.py; here, once they are recorded, the walk ends it as the
Sequential it is.
"""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.execution import Execution, TaskRun
from schemas.inputs import parse_duration
from schemas.storage import SCHEME, StorageError, safe_part
from streams.core.ids import derive_id
from streams.plugins.base import WorkerContext
from streams.plugins.core.flowables import Sequential
from streams.plugins.flowable import ChildPlan, Decision, ExecutionView, in_sequence
from streams.plugins.namespace.working_files import NamespaceFiles, materialise
from streams.plugins.scripts.files import (
    FilesError,
    collect_output_files,
    parse_input_files,
    write_input_files,
)

_KESTRA = "io.kestra.plugin.core.flow"
_KESTRA_OLD = "io.kestra.core.tasks.flows"
# A cache archive bigger than this is not restored (nor saved).
MAX_CACHE_BYTES = 512 * 1024 * 1024


class Cache(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    patterns: list[str] = Field(min_length=1)
    ttl: str | None = None


class WorkingDirectory(Sequential):
    """Runs `tasks` one after another on one worker, in one folder they share."""

    TYPE: ClassVar[str] = "flow.WorkingDirectory"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.WorkingDirectory",
        f"{_KESTRA_OLD}.WorkingDirectory",
    )
    inputFiles: dict[str, Any] | str | None = None
    outputFiles: list[str] | None = None
    namespaceFiles: NamespaceFiles | None = None
    cache: Cache | None = None
    RUNS_ON_WORKER: ClassVar[bool] = True

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        if self.waiting(view.execution, run):
            return None  # its job runs its tasks; the report records them
        return in_sequence(self.tasks, run.value)

    def waiting(self, state: Execution, run: TaskRun) -> bool:
        """Whether the run's job has not reported its tasks yet."""
        attempt = run.attempt_number
        return not any(
            child_run_id(state.id, run.id, run.value, spec.id, attempt) in state.task_runs
            for spec in self.tasks
        )


def child_run_id(
    execution_id: str, run_id: str, value: str | None, task_id: str, attempt: int
) -> str:
    """The id of a task's run in attempt `attempt` of the WorkingDirectory run `run_id`."""
    return derive_id(execution_id, run_id, task_id, value, "attempt", attempt)


class WorkingDirectoryError(Exception):
    """A step around the tasks failed (an input file, the output files, the cache)."""


def cache_uri(ctx: WorkerContext, task_id: str, value: str | None) -> str:
    """Where a WorkingDirectory's cache lives: per flow, task and loop value (Kestra's
    getCacheFile(id, value))."""
    ns = "/".join(safe_part(p) for p in ctx.namespace.split("."))
    suffix = safe_part(value) if value else "default"
    return (
        f"{SCHEME}{safe_part(ctx.tenant)}/{ns}/{safe_part(ctx.flow_id)}/caches/"
        f"{safe_part(task_id)}/{suffix}/cache.zip"
    )


async def before(task: WorkingDirectory, ctx: WorkerContext, folder: Path) -> float:
    """Fills the folder; returns when the cache was restored (0: it was not)."""
    restored = 0.0
    if task.cache is not None:
        restored = await asyncio.to_thread(_restore_cache, task, ctx, folder)
    try:
        # Namespace files first, so that an input file of the same name wins (Kestra).
        await materialise(ctx, folder, task.namespaceFiles)
        files = parse_input_files(_as_text_map(task.inputFiles))
        await write_input_files(ctx, folder, files)
    except FilesError as exc:
        raise WorkingDirectoryError(f"inputFiles: {exc}") from None
    return restored


async def after(
    task: WorkingDirectory, ctx: WorkerContext, folder: Path, restored: float
) -> dict[str, Any]:
    """Stores `outputFiles` (the outputs) and saves the cache when its files changed."""
    outputs: dict[str, Any] = {}
    if task.outputFiles:
        try:
            uris = await collect_output_files(ctx, folder, task.outputFiles)
        except FilesError as exc:
            raise WorkingDirectoryError(f"outputFiles: {exc}") from None
        if uris:
            outputs["outputFiles"] = uris
    if task.cache is not None:
        await asyncio.to_thread(_save_cache, task, ctx, folder, restored)
    return outputs


def _as_text_map(value: dict[str, Any] | str | None) -> dict[str, str] | str | None:
    if isinstance(value, dict):
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in value.items()}
    return value


def _cached_files(task: WorkingDirectory, folder: Path) -> list[Path]:
    assert task.cache is not None
    found: dict[Path, None] = {}
    root = folder.resolve()
    for pattern in task.cache.patterns:
        rel = PurePosixPath(pattern)
        if rel.is_absolute() or ".." in rel.parts:
            raise WorkingDirectoryError(f"cache pattern {pattern!r} must stay in the folder")
        for path in sorted(folder.glob(pattern)):
            if path.is_file() and path.resolve().is_relative_to(root):
                found[path] = None
    return list(found)


def _restore_cache(task: WorkingDirectory, ctx: WorkerContext, folder: Path) -> float:
    assert task.cache is not None
    if ctx.storage is None:
        return 0.0
    uri = cache_uri(ctx, task.id, ctx.task_run_value)
    try:
        data = ctx.storage.get_bytes(uri, MAX_CACHE_BYTES)
    except StorageError:
        return 0.0  # no cache yet
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        saved = float(archive.comment.decode() or 0)
        if task.cache.ttl and saved + parse_duration(task.cache.ttl).total_seconds() < (
            ctx.now().timestamp()
        ):
            return 0.0  # expired
        for name in archive.namelist():
            rel = PurePosixPath(name)
            if rel.is_absolute() or ".." in rel.parts or name.endswith("/"):
                continue
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    return ctx.now().timestamp()


def _save_cache(task: WorkingDirectory, ctx: WorkerContext, folder: Path, restored: float) -> None:
    if ctx.storage is None:
        return
    files = _cached_files(task, folder)
    if restored and not any(p.stat().st_mtime > restored for p in files):
        return  # nothing changed since the cache was restored
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = str(ctx.now().timestamp()).encode()
        for path in files:
            archive.write(path, path.relative_to(folder).as_posix())
    if buffer.tell() <= MAX_CACHE_BYTES:
        ctx.storage.put_bytes(cache_uri(ctx, task.id, ctx.task_run_value), buffer.getvalue())
