"""WorkingDirectory in the executor's pure core: dispatched whole, recorded child by child.

Design. Kestra runs a WorkingDirectory as ONE WorkerTask: one worker prepares a folder
(cache, inputFiles), runs the tasks one after another in it, each rendered with the
outputs of the ones before, then stores outputFiles and the cache; each task's result
comes back as a task run of its own. The same here, for the same reason: the tasks share
a folder on one machine's disk, so they must run on one worker, back to back. Walking
them one job at a time instead would send each job to whichever worker owns its
partition (jobs are keyed by task run), and pinning them to one worker would make the
folder's life depend on rebalances. So:
- the executor dispatches the WorkingDirectory's run as one WorkerJob carrying its tasks
  (unrendered) and the variables they render with (`context`, as at dispatch);
- the worker (streams/app/working_directory.py) runs them in one folder, rendering each
  with the outputs of those before, and stops at the first failure not allowed, as
  Kestra does; its "finished" report lists every task's end (`children`);
- here, that report becomes a task run per task (created, started, ended), with ids
  derived from the WorkingDirectory's run and attempt. When a task failed the run stays
  RUNNING and the walk ends it as the Sequential it is (its `errors` run, as in Kestra's
  resolveNexts); otherwise it ends here, with the outputs (`outputFiles`).
A task's own retry policy does not apply inside (Kestra's worker does not retry there
either); the WorkingDirectory's does: a retry runs the whole folder again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from schemas.events import TASK_RUN_END_STATES, TaskRunCreated, TaskRunRunning, TaskRunStarted
from schemas.execution import Execution, TaskRun
from schemas.flow import TaskSpec
from schemas.states import State, task_run_may_move, worst
from schemas.worker import TaskRunReport
from streams.core.context import _values_path, render_context
from streams.core.emitter import Emitter
from streams.core.jobs import worker_job
from streams.core.messages import end_or_retry
from streams.core.validation import ValidatedFlow
from streams.plugins.base import FlowableTask
from streams.plugins.core.working_directory import WorkingDirectory, child_run_id

if TYPE_CHECKING:
    from streams.core.walk import Walker

_JSON: TypeAdapter[Any] = TypeAdapter(Any)
# Lookups the worker makes itself (streams/core/context.py), never shipped.
_LOOKUPS = ("_secrets", "_kv", "_files")


__all__ = ["child_run_id", "finished", "shipped_context", "start"]


def start(w: Walker, run: TaskRun, task: FlowableTask) -> None:
    """Dispatches a flowable that runs on one worker (a WorkingDirectory; its properties
    already rendered, its tasks not) as one job, with the variables its tasks render with."""
    job = worker_job(w, run, task, context=shipped_context(w.flow, w.state, run, task.type))
    if job is None:
        return
    _close_superseded(w.em, run, job.attempt)
    w.em.emit(TaskRunStarted, task_run_id=run.id, attempt=job.attempt, job=job)


def _close_superseded(em: Emitter, run: TaskRun, attempt: int) -> None:
    """A restart marks the failed task of the last attempt RESTARTED; Kestra deletes it,
    and runs the WorkingDirectory's tasks again as new task runs. Here it stays, ended
    FAILED again (after a start to leave RESTARTED), saying which attempt replaces it."""
    for child in list(em.current.task_runs.values()):
        if child.parent_id == run.id and child.state == State.RESTARTED:
            em.emit(TaskRunStarted, task_run_id=child.id, attempt=child.attempt_number + 1)
            em.end_task_run(
                child.id,
                State.FAILED,
                error=f"replaced: attempt {attempt} of {run.task_id} runs its tasks again",
            )


def shipped_context(
    flow: ValidatedFlow, state: Execution, run: TaskRun, task_type: str
) -> dict[str, Any]:
    """The WorkingDirectory's variables as JSON: Kestra's `workerTaskrun` is its task
    run; `_values` the loop values around it (its tasks' outputs are keyed by them)."""
    context = render_context(flow.flow, state, run, task_type)
    for key in _LOOKUPS:
        context.pop(key, None)
    context["workerTaskrun"] = context.get("taskrun")
    context["_values"] = _values_path(state, run)
    shipped = _JSON.dump_python(context, mode="json")
    assert isinstance(shipped, dict)
    return shipped


def finished(em: Emitter, flow: ValidatedFlow, run: TaskRun, report: TaskRunReport) -> None:
    """Records the tasks the worker ran, then ends the WorkingDirectory unless a task
    failed (the walk then runs its `errors` and ends it)."""
    task = flow.tasks[run.task_id]
    assert isinstance(task, WorkingDirectory)
    specs = {spec.id: spec for spec in task.tasks}
    counted: list[State] = []
    for child in report.children:
        spec = specs.get(child.task_id)
        run_id = child_run_id(em.current.id, run.id, run.value, child.task_id, run.attempt_number)
        if spec is None or child.task_run_id != run_id or run_id in em.current.task_runs:
            continue  # not a task of this attempt (or told twice): not recorded
        em.emit(
            TaskRunCreated,
            task_run_id=run_id,
            task_id=spec.id,
            parent_id=run.id,
            value=run.value,
        )
        if child.state == State.SKIPPED:  # its runIf was false: it never started
            em.end_task_run(run_id, State.SKIPPED)
            counted.append(State.SKIPPED)
            continue
        em.emit(TaskRunStarted, task_run_id=run_id, attempt=1)
        em.emit(TaskRunRunning, task_run_id=run_id, attempt=1, worker_id=report.worker_id)
        state = child.state
        if state not in TASK_RUN_END_STATES or not task_run_may_move(State.RUNNING, state):
            state = State.FAILED
        em.emit(
            TASK_RUN_END_STATES[state],
            task_run_id=run_id,
            outputs=child.outputs,
            error=child.error,
            metrics=child.metrics,
        )
        counted.append(_counted(spec, state))
    if any(s.is_failure for s in counted):
        return  # the walk runs `errors`, then ends it FAILED
    final = report.state if report.state is not None else State.FAILED
    if final.is_failure or not final.is_terminal:
        end_or_retry(
            em,
            flow,
            run,
            State.FAILED,
            outputs=report.outputs,
            error=report.error,
            metrics=report.metrics,
        )
        return
    result = worst(counted) if counted else State.SUCCESS
    em.end_task_run(run.id, result, outputs=report.outputs, metrics=report.metrics)


def _counted(spec: TaskSpec, state: State) -> State:
    # As Walker._counted: an allowed failure is a warning, an allowed warning a success.
    if state.is_failure and spec.allowFailure:
        state = State.WARNING
    if state == State.WARNING and spec.allowWarning:
        return State.SUCCESS
    return state
