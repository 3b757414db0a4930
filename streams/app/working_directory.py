"""A WorkingDirectory's job on a worker: its tasks, one after another, in one folder.

As Kestra's Worker.handleTask: the folder is prepared (cache, inputFiles), each enabled
task is rendered with the variables the executor shipped plus the outputs of the tasks
before it, then run there; the first failure not allowed stops the rest; then
outputFiles are stored and the cache saved, and the folder is removed. The report lists
how every task ended (streams/core/working_directory.py records them as task runs).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from schemas.flow import NOT_RENDERED_AS_INPUTS
from schemas.inputs import parse_duration
from schemas.states import State
from schemas.worker import ChildRunReport, WorkerJob
from streams.core.context import _Deferred
from streams.core.deferred import defer_lookups
from streams.core.expressions import ExpressionError, render, render_bool
from streams.core.expressions.values import templated_text
from streams.core.folder_variables import placeholders
from streams.core.working_directory import child_run_id
from streams.deferred_lookups import DeferredError
from streams.plugins.base import InlineLog, InlineTask, Outcome, WorkerContext, WorkerTask
from streams.plugins.core.working_directory import (
    WorkingDirectory,
    WorkingDirectoryError,
    after,
    before,
)
from streams.plugins.scripts.files import FilesError
from streams.storage import StorageError

if TYPE_CHECKING:
    from streams.app.worker import Worker

_AROUND = (WorkingDirectoryError, FilesError, StorageError, zipfile.BadZipFile, OSError, ValueError)


async def run_working_directory(
    worker: Worker, job: WorkerJob, task: WorkingDirectory, now: Callable[[], dt.datetime]
) -> Outcome:
    root = (worker.edges.work_root or Path(tempfile.gettempdir()) / "lanner-work") / "shared"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{job.task_run_id[:40]}-{job.attempt}-", dir=root))
    ctx = _context(worker, job, folder, worker.log_writer(job), now)
    children: list[ChildRunReport] = []
    try:
        try:
            restored = await before(task, ctx, folder)
        except _AROUND as exc:
            return Outcome(State.FAILED, error=f"task {task.id}: {exc}")
        variables = dict(job.context or {})
        raw_tasks = job.task.get("tasks") or []
        for spec, raw in zip(task.tasks, raw_tasks, strict=True):
            if spec.disabled:
                continue
            child, outputs = await _run_child(worker, job, folder, dict(raw), variables, now)
            children.append(child)
            _add_outputs(variables, spec.id, outputs)
            if child.state.is_failure and not spec.allowFailure:
                break
        try:
            outputs = await after(task, ctx, folder, restored)
        except _AROUND as exc:
            return Outcome(State.FAILED, error=f"task {task.id}: {exc}", children=tuple(children))
        return Outcome(State.SUCCESS, outputs, children=tuple(children))
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


def _context(
    worker: Worker,
    job: WorkerJob,
    folder: Path,
    log: Callable[[Any, str], Awaitable[None]],
    now: Callable[[], dt.datetime],
) -> WorkerContext:
    return worker.task_context(job, log, now, shared_dir=folder)


async def _run_child(
    worker: Worker,
    job: WorkerJob,
    folder: Path,
    raw: dict[str, Any],
    variables: dict[str, Any],
    now: Callable[[], dt.datetime],
) -> tuple[ChildRunReport, dict[str, Any]]:
    task_id = str(raw.get("id"))
    run_id = child_run_id(job.execution_id, job.task_run_id, job.value, task_id, job.attempt)
    child_job = job.model_copy(
        update={"task_run_id": run_id, "task_id": task_id, "attempt": 1, "context": None}
    )
    write_log = worker.log_writer(child_job)
    outcome = await _outcome(worker, child_job, folder, raw, variables, write_log, now)
    if outcome.error:
        await write_log("ERROR", outcome.error)
    published = await worker.edges.publishable(child_job, outcome)
    worker.edges.forget(child_job)
    report = ChildRunReport(
        task_run_id=run_id,
        task_id=task_id,
        state=published.state,
        outputs=dict(published.outputs),
        error=published.error,
        metrics=published.metrics,
    )
    return report, dict(published.outputs)


async def _outcome(
    worker: Worker,
    job: WorkerJob,
    folder: Path,
    raw: dict[str, Any],
    variables: dict[str, Any],
    write_log: Callable[[Any, str], Awaitable[None]],
    now: Callable[[], dt.datetime],
) -> Outcome:
    name = f"task {job.task_id}"
    plugin = worker.registry.get(str(raw.get("type")))
    if plugin is None:
        return Outcome(State.FAILED, error=f"{name}: no plugin for type {raw.get('type')!r}")
    if plugin.KIND == "flowable":
        return Outcome(State.FAILED, error=f"{name}: a WorkingDirectory runs runnable tasks only")
    at = now()
    offered, task_type = plugin.FOLDER_VARIABLES, str(raw.get("type"))
    context = {
        **variables,
        "_secrets": _Deferred("secret"),
        "_kv": _Deferred("kv"),
        "_files": _Deferred("read"),
        "task": {"id": job.task_id, "type": raw.get("type")},
        "taskrun": {
            "id": job.task_run_id,
            "value": job.value,
            "iteration": None,
            "parentId": variables.get("workerTaskrun", {}).get("id"),
            "startDate": at,
            "attemptsCount": 1,
        },
    }
    try:
        if raw.get("runIf") is not None and not render_bool(
            raw["runIf"], context, now=at, limits=worker.edges.render_limits
        ):
            return Outcome(State.SKIPPED)  # as Kestra's worker: runIf false skips the task
        context.update(placeholders(offered))  # `{{ workingDir }}`: the folder, resolved below
        for key in list(raw):
            if key not in NOT_RENDERED_AS_INPUTS and key not in plugin.UNRENDERED:
                value = defer_lookups(raw[key], context, at, offered, task_type)
                rendered = render(value, context, now=at, limits=worker.edges.render_limits)
                text = key in plugin.text_properties()
                raw[key] = templated_text(raw[key], rendered) if text else rendered
        resolved = await worker.edges.resolve(job.model_copy(update={"task": raw}), now, folder)
        task = plugin.model_validate(resolved)
    except ValidationError as exc:
        return Outcome(State.FAILED, error=f"{name}: invalid properties: {exc}")
    except (ExpressionError, DeferredError, ValueError) as exc:
        return Outcome(State.FAILED, error=f"{name}: {exc}")
    try:
        if isinstance(task, InlineTask):
            lines: list[InlineLog] = []
            outcome = task.run_inline(lines)
            for line in lines:
                await write_log(line.level, line.message)
            return outcome
        assert isinstance(task, WorkerTask)
        limit = parse_duration(task.timeout).total_seconds() if task.timeout else None
        return await asyncio.wait_for(
            task.run(_context(worker, job, folder, write_log, now)), limit
        )
    except asyncio.CancelledError:
        raise
    except TimeoutError:
        return Outcome(State.FAILED, error=f"{name}: timed out after {task.timeout}")
    except Exception as exc:  # the task's failure, not the worker's
        return Outcome(State.FAILED, error=f"{name} raised {type(exc).__name__}: {exc}")


def _add_outputs(variables: dict[str, Any], task_id: str, outputs: dict[str, Any]) -> None:
    """`outputs.<task>` for the tasks after it, keyed by the loop values around it."""
    if not outputs:
        return
    view = dict(variables.get("outputs") or {})
    path = [str(v) for v in variables.get("_values") or []]
    if not path:
        view[task_id] = outputs
    else:
        bucket = view[task_id] = dict(view.get(task_id) or {})
        for value in path[:-1]:
            bucket = bucket.setdefault(value, {})
        bucket[path[-1]] = outputs
    variables["outputs"] = view
