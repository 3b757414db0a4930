"""WaitFor in the executor's pure core: Kestra's loop, step by step.

Kestra (ExecutorService's "WaitFor case", WaitFor.resolveState, ExecutionService.
retryWaitFor) runs the WaitFor's `tasks` in sequence as one iteration; once every child
of the iteration succeeded it renders `condition`:
- true: the WaitFor ends SUCCESS, `iterationCount` = the iterations run;
- false, and a maximum is reached (`maxIterations` iterations done, or `maxDuration`
  past since the WaitFor was created): it ends FAILED with `failOnMaxReached`, else
  SUCCESS, `iterationCount` = iterations + 1 (Kestra counts the iteration it would start);
- false otherwise: the WaitFor run and the execution are PAUSED until `interval` from
  now, then the next iteration starts (Kestra deletes the previous children; here they
  stay, each iteration's runs carrying their `iteration` number, and the newest run of a
  task is the one `outputs.<task>` shows, as in Kestra).
A child that fails or warns ends the loop as it would end a Sequential.

Everything is pure: the time is the decision's (`em.time`), the wait is the existing
timer of a paused run (TaskRunPaused.resume_at -> WakeUp -> TaskRunResumed), and
`iterationCount` lives in the run's outputs (set by the start decision, then by each
pause), so children render `outputs.<waitfor>.iterationCount` as on Kestra.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from schemas.events import ExecutionPaused, TaskRunCreated, TaskRunPaused
from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.inputs import parse_duration
from schemas.states import State
from streams.core.expressions import ExpressionError
from streams.core.ids import derive_id
from streams.plugins.core.wait_for import WaitFor

if TYPE_CHECKING:
    from streams.core.walk import Walker

ITERATION_COUNT = "iterationCount"


def decide(run: TaskRun, task: WaitFor) -> dict[str, Any]:
    """The start decision: durations are checked once; the first iteration is 1, or, for
    a restarted WaitFor, the one it stopped in (whose failed runs then run again)."""
    frequency = task.checkFrequency
    for name, text in (("interval", frequency.interval), ("maxDuration", frequency.maxDuration)):
        if text is not None:
            try:
                parse_duration(text)
            except ValueError as exc:
                raise ValueError(f"checkFrequency.{name}: {exc}") from None
    return {"outputs": {ITERATION_COUNT: int(run.outputs.get(ITERATION_COUNT, 1))}}


def step(w: Walker, run: TaskRun, task: WaitFor) -> None:
    """Steps a RUNNING WaitFor: runs the current iteration, then ends, or pauses the run
    until the next one."""
    run = w.state.task_runs[run.id]
    iteration = int(run.outputs.get(ITERATION_COUNT, 1))
    ending: dict[str, Any] = {ITERATION_COUNT: iteration}

    def runner(specs: list[TaskSpec], parent_id: str | None, value: str | None) -> State | None:
        result = _iteration(w, specs, run, iteration)
        if result != State.SUCCESS or w.killing:
            return result
        return _after(w, run, task, iteration, ending)

    try:
        result = w._block(task.tasks, task.errors, task.finally_, run.id, run.value, runner)
    except (ExpressionError, ValueError) as exc:
        w._fail(w.state.task_runs[run.id], task, f"task {task.id}: {exc}")
        return
    if result is None:
        return
    w.em.end_task_run(run.id, result, outputs=ending)


def _iteration(w: Walker, specs: list[TaskSpec], run: TaskRun, iteration: int) -> State | None:
    """One iteration: `specs` in sequence, each child run tagged with the iteration."""
    mine = {
        r.task_id: r
        for r in w.state.task_runs.values()
        if r.parent_id == run.id and r.iteration == iteration
    }

    def child(spec: TaskSpec) -> TaskRun | None:
        found = mine.get(spec.id)
        if found is None:
            if w.killing:
                return None
            found = _create(w, spec, run, iteration)
        return w._step(found)

    return w._in_order(specs, child)


def _create(w: Walker, spec: TaskSpec, run: TaskRun, iteration: int) -> TaskRun:
    """A child run of this iteration: its id derives from the iteration too, so every
    iteration has runs of its own (the walk's scope index then holds the newest)."""
    w.bounds.check_task_runs(len(w.state.task_runs), w._created)
    w._created += 1
    run_id = derive_id(w.state.id, run.id, spec.id, run.value, "iteration", iteration)
    w.em.emit(
        TaskRunCreated,
        task_run_id=run_id,
        task_id=spec.id,
        parent_id=run.id,
        value=run.value,
        iteration=iteration,
    )
    w._runs_by_scope[(run.id, spec.id, run.value)] = run_id
    return w.state.task_runs[run_id]


def _after(
    w: Walker, run: TaskRun, task: WaitFor, iteration: int, ending: dict[str, Any]
) -> State | None:
    """Every child of the iteration succeeded: end the loop, or wait for the next one."""
    frequency = task.checkFrequency
    if _out_of_time(run, frequency.maxDuration, w.em.time):
        return State.FAILED if task.failOnMaxReached else State.SUCCESS
    condition = w._decided_here(task.condition, "condition")
    if w._render_bool(condition, w._context(run, task)):
        return State.SUCCESS
    following = iteration + 1
    if (frequency.maxIterations is not None and following > frequency.maxIterations) or (
        _out_of_time(run, frequency.maxDuration, w.em.time)
    ):
        ending[ITERATION_COUNT] = following
        return State.FAILED if task.failOnMaxReached else State.SUCCESS
    resume_at = w.em.time + parse_duration(frequency.interval)
    w.em.emit(
        TaskRunPaused,
        task_run_id=run.id,
        resume_at=resume_at,
        outputs={ITERATION_COUNT: following},
    )
    if w.state.state == State.RUNNING:
        w.em.emit(ExecutionPaused)
    return None


def _out_of_time(run: TaskRun, max_duration: str | None, now: dt.datetime) -> bool:
    created = run.history[0].date if run.history else None
    if max_duration is None or created is None:
        return False
    return created + parse_duration(max_duration) < now
