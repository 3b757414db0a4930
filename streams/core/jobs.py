"""The WorkerJob a task run is dispatched as (streams/core/walk.py for a task, and
streams/core/working_directory.py for a whole WorkingDirectory)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schemas.inputs import parse_duration
from schemas.worker import WorkerJob

if TYPE_CHECKING:
    from schemas.execution import TaskRun
    from streams.core.walk import Walker
    from streams.plugins.base import Task


def worker_job(
    w: Walker, run: TaskRun, task: Task, context: dict[str, Any] | None = None
) -> WorkerJob | None:
    """The job for the next attempt of `run` (`task` as rendered, with the variables in
    `context` if any); None after failing the run when its timeout is not a duration."""
    deadline = None
    if task.timeout:
        try:
            deadline = w.em.time + parse_duration(task.timeout)
        except ValueError as exc:
            w._fail(run, task, f"task {task.id}: timeout {exc}")
            return None
    s = w.state
    extra: dict[str, Any] = {} if context is None else {"context": context}
    return WorkerJob(
        execution_id=s.id,
        task_run_id=run.id,
        task_id=task.id,
        attempt=run.attempt_number + 1,
        task=task.model_dump(mode="json", by_alias=True, exclude_unset=True),
        tenant=s.tenant,
        namespace=s.namespace,
        flow_id=s.flow_id,
        value=run.value,
        dispatched=w.em.time,
        deadline=deadline,
        **extra,
    )
