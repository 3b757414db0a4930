"""What each kind of executor message does to an execution, before the walk (pure).

Commands from operators (kill, pause, resume, restart, replay, state by hand), the gate, timers
and worker reports: each either changes nothing or emits the events that record it.
"""

from __future__ import annotations

from typing import Any

from schemas.commands import (
    ChangeTaskRunState,
    CreateExecution,
    KillExecution,
    PauseExecution,
    ReplayExecution,
    ResumeExecution,
    SubflowEnded,
    WakeUp,
    WorkerLost,
)
from schemas.events import (
    EXECUTION_END_STATES,
    TASK_RUN_END_STATES,
    ExecutionCreated,
    ExecutionKilling,
    ExecutionPaused,
    ExecutionQueued,
    ExecutionReplayed,
    ExecutionRestarted,
    ExecutionResumed,
    ExecutionStarted,
    TaskRunResumed,
    TaskRunRetrying,
    TaskRunRunning,
    TaskRunStateChanged,
)
from schemas.execution import Execution, TaskRun
from schemas.flow import FlowRef, TaskSpec
from schemas.inputs import coerce_inputs
from schemas.metrics import TaskMetric
from schemas.states import (
    SETTABLE_BY_HAND,
    Operation,
    State,
    may_change_task_run,
    operator_may,
    task_run_may_move,
)
from schemas.worker import LogLine, TaskRunReport
from streams.core import for_each_item
from streams.core.deferred import may_need_worker
from streams.core.emitter import Emitter
from streams.core.evolve import evolve
from streams.core.expressions import ExpressionError, render
from streams.core.labels import with_correlation
from streams.core.retry import next_retry, retry_policy
from streams.core.validation import UnrunnableFlow, ValidatedFlow
from streams.plugins.base import FlowableTask, InlineTask
from streams.plugins.core.flowables import Subflow
from streams.plugins.core.working_directory import WorkingDirectory


def as_created(flow: ValidatedFlow, cmd: CreateExecution) -> Execution:
    """The execution as its creation makes it, before the executor takes it up: what the
    first event it will decide (ExecutionCreated) folds to, timed at the request. The API
    answers a creation with it at once, without waiting for the views."""
    em = Emitter(None, cmd, cmd.time)
    create_execution(em, flow, cmd)
    state = evolve(None, em.events[0])
    assert state is not None
    return state


def create_execution(
    em: Emitter,
    flow: ValidatedFlow | UnrunnableFlow | None,
    cmd: CreateExecution,
    failure: str | None = None,
) -> None:
    """ExecutionCreated, then started, queued, or failed with the reason. `failure`: the
    creation's decision failed (handle.py); the execution is created and fails with it."""
    if em.state is not None:
        return  # the execution exists: a second CreateExecution for it changes nothing
    ref = cmd.flow
    runnable = flow if isinstance(flow, ValidatedFlow) else None
    problem = failure if failure is not None else _cannot_run(flow, ref)
    inputs = cmd.inputs
    if problem is None:
        assert runnable is not None
        values, errors = coerce_inputs(runnable.flow.inputs, cmd.inputs)
        unknown = sorted({r.task_id for r in cmd.seed if r.task_id not in runnable.tasks})
        if errors:
            problem = "invalid inputs: " + "; ".join(errors)
        elif unknown:
            problem = f"replay: revision {ref.revision} has no task {', '.join(unknown)}"
        else:
            inputs = values
    em.emit(
        ExecutionCreated,
        execution_id=cmd.execution_id,
        requested=cmd.time,
        tenant=ref.tenant,
        namespace=ref.namespace,
        flow_id=ref.flow_id,
        flow_revision=ref.revision,
        inputs=inputs,
        labels=with_correlation(
            {**(runnable.flow.label_map() if runnable else {}), **cmd.labels}, cmd.execution_id
        ),
        variables={},
        parent=cmd.parent,
        trigger=cmd.trigger,
        seed=tuple(cmd.seed) if problem is None else (),
        original_id=cmd.original_id,
    )
    if problem is not None:
        em.emit(EXECUTION_END_STATES[State.FAILED], error=problem)
        return
    assert runnable is not None
    limit = runnable.flow.concurrency
    if limit is not None:
        # Other executions of the flow live on other partitions: the gate decides.
        em.emit(ExecutionQueued, limit=limit.limit, behavior=limit.behavior)
        return
    em.emit(ExecutionStarted)


def _cannot_run(flow: ValidatedFlow | UnrunnableFlow | None, ref: FlowRef) -> str | None:
    name = f"flow {ref.namespace}.{ref.flow_id}"
    if isinstance(flow, UnrunnableFlow):
        return f"{name} revision {ref.revision}: {flow.reason}"
    if flow is None:
        return f"{name} revision {ref.revision} does not exist"
    if flow.flow.disabled:
        return f"{name} is disabled"
    return None


def on_report(em: Emitter, report: TaskRunReport, flow: ValidatedFlow) -> None:
    run = em.current.task_runs.get(report.task_run_id)
    # A report for an attempt that is no longer current (a retried or re-dispatched run,
    # a duplicate) is ignored: only the current attempt may move the run.
    if run is None or run.state.is_terminal or report.attempt != run.attempt_number:
        return
    # Only a dispatched (worker) task has a job to report on: a stray report naming a
    # Pause or a waiting Subflow run (attempt 1 too) must not end it, or the execution
    # could stay PAUSED with no paused run.
    spec = flow.tasks.get(run.task_id)
    dispatched_whole = isinstance(spec, WorkingDirectory)  # its job runs all its tasks
    if (isinstance(spec, FlowableTask) and not dispatched_whole) or (
        isinstance(spec, InlineTask) and not may_need_worker(spec)
    ):
        return
    if em.current.state == State.KILLING:
        return
    named = run.attempts and run.attempts[-1].worker_id is not None
    if report.kind in ("started", "finished") and not named:
        # The attempt's first report names its worker: "started" for a task still running
        # after the worker's started-report delay; a quick task's "finished" comes alone.
        em.emit(
            TaskRunRunning, task_run_id=run.id, attempt=report.attempt, worker_id=report.worker_id
        )
        run = em.current.task_runs[run.id]
    if report.kind == "finished":
        if dispatched_whole:
            from streams.core.working_directory import finished  # it uses end_or_retry

            finished(em, flow, run, report)
            return
        final = (
            report.state if report.state is not None and report.state.is_terminal else State.FAILED
        )
        # A state the transition table forbids from the run's state (a worker saying
        # SKIPPED for a RUNNING run) is a failure of the task run, not of the executor.
        allowed = final in TASK_RUN_END_STATES and task_run_may_move(run.state, final)
        task_state = final if allowed else State.FAILED
        end_or_retry(
            em,
            flow,
            run,
            task_state,
            outputs=report.outputs,
            error=report.error,
            metrics=report.metrics,
        )
    elif report.kind == "abandoned":
        # A worker shutting down handed the attempt back: run it again, not as a retry.
        _run_again(em, run, f"worker {report.worker_id} handed the task back")


def on_worker_lost(em: Emitter, cmd: WorkerLost) -> None:
    run = em.current.task_runs.get(cmd.task_run_id)
    if run is None or run.state != State.RUNNING or cmd.attempt != run.attempt_number:
        return
    if run.attempts[-1].worker_id != cmd.worker_id:
        return
    _run_again(em, run, f"worker {cmd.worker_id} stopped sending heartbeats")


def _run_again(em: Emitter, run: TaskRun, reason: str) -> None:
    """A new attempt at once, outside the retry policy (the task did not fail)."""
    em.emit(
        TaskRunRetrying,
        task_run_id=run.id,
        attempt=run.attempt_number,
        retry_at=em.time,
        error=reason,
    )


def end_or_retry(
    em: Emitter,
    flow: ValidatedFlow,
    run: TaskRun,
    state: State,
    *,
    outputs: dict[str, Any] | None = None,
    error: str | None = None,
    logs: tuple[LogLine, ...] = (),
    metrics: tuple[TaskMetric, ...] = (),
) -> None:
    """End the attempt; a failure becomes a retry while the task's policy allows one."""
    run = em.current.task_runs[run.id]
    task = flow.tasks[run.task_id]
    policy = retry_policy(task, flow.flow, _enclosing_tasks(em.current, run, flow))
    if state == State.FAILED and policy is not None and em.current.state != State.KILLING:
        # A restart gives the task a fresh retry budget: count from the last one.
        restarts = [h.date for h in run.history if h.state == State.RESTARTED]
        since = [a for a in run.attempts if not restarts or (a.start and a.start >= restarts[-1])]
        first_start = since[0].start if since and since[0].start else em.time
        retry_at = next_retry(policy, run.id, len(since), first_start, em.time)
        if retry_at is not None:
            em.emit(
                TaskRunRetrying,
                task_run_id=run.id,
                attempt=run.attempt_number,
                retry_at=retry_at,
                error=error,
                metrics=metrics,
            )
            return
    retried = policy is not None and policy.warningOnRetry and run.attempt_number > 1
    if state == State.SUCCESS and retried:
        state = State.WARNING
    em.end_task_run(run.id, state, outputs=outputs or {}, error=error, logs=logs, metrics=metrics)


def _enclosing_tasks(state: Execution, run: TaskRun, flow: ValidatedFlow) -> list[TaskSpec]:
    """The flowables around a task run, innermost first."""
    return [flow.tasks[parent.task_id] for parent in state.ancestors(run)]


def on_kill(em: Emitter, cmd: KillExecution) -> None:
    if not operator_may(Operation.KILL, em.current.state):
        return
    if em.current.state == State.QUEUED:
        em.emit(EXECUTION_END_STATES[State.KILLED], error="killed while queued")
        return
    em.emit(ExecutionKilling, kill_children=cmd.kill_children)
    for run in list(em.current.task_runs.values()):
        if not run.state.is_terminal:
            em.end_task_run(run.id, State.KILLED, error="killed")


def _failed_with_ancestors(state: Execution, roots: list[TaskRun]) -> list[str]:
    """The given runs and their ancestors that are in a failed state, parents first."""
    chosen: dict[str, None] = {}
    for root in roots:
        chain = [
            r.id for r in [root, *state.ancestors(root)] if r.state in (State.FAILED, State.KILLED)
        ]
        for run_id in reversed(chain):
            chosen[run_id] = None
    return list(chosen)


def on_restart(em: Emitter) -> None:
    state = em.current
    if not operator_may(Operation.RESTART, state.state):
        return
    failed = [r for r in state.task_runs.values() if r.state in (State.FAILED, State.KILLED)]
    em.emit(ExecutionRestarted, task_run_ids=tuple(_failed_with_ancestors(state, failed)))
    em.emit(ExecutionStarted)


def on_change_state(em: Emitter, cmd: ChangeTaskRunState, flow: ValidatedFlow) -> None:
    run = em.current.task_runs.get(cmd.task_run_id)
    target = cmd.state
    if run is None or target == run.state or target not in SETTABLE_BY_HAND:
        return
    if not may_change_task_run(em.current.state, run.state):
        return
    em.emit(TaskRunStateChanged, task_run_id=run.id, previous=run.state, state=target)
    if em.current.state.is_terminal:
        # The execution carries on from the changed run: its failed ancestors run again.
        run = em.current.task_runs[run.id]
        ancestors = [em.current.task_runs[run.parent_id]] if run.parent_id else []
        em.emit(
            ExecutionRestarted, task_run_ids=tuple(_failed_with_ancestors(em.current, ancestors))
        )
        em.emit(ExecutionStarted)


def on_replay(em: Emitter, cmd: ReplayExecution) -> None:
    if not operator_may(Operation.REPLAY, em.current.state):
        return
    if cmd.task_run_id is not None and cmd.task_run_id not in em.current.task_runs:
        return
    em.emit(
        ExecutionReplayed,
        new_execution_id=cmd.new_execution_id,
        task_run_id=cmd.task_run_id,
        revision=cmd.revision or em.current.flow_revision,
    )


def on_pause(em: Emitter, cmd: PauseExecution) -> None:
    """An operator's pause: the execution becomes PAUSED, and the walk, which starts
    nothing while it is, waits for a ResumeExecution. Reports of what already runs on
    workers are still recorded (on_report does not look at the execution's state). A
    pause of an execution that is not RUNNING, a redelivered one included, changes
    nothing: the API refused it already, or it was applied before."""
    if not operator_may(Operation.PAUSE, em.current.state):
        return
    em.emit(ExecutionPaused)


def on_resume(em: Emitter, cmd: ResumeExecution) -> None:
    if not operator_may(Operation.RESUME, em.current.state):
        return
    for run in list(em.current.task_runs.values()):
        if run.state == State.PAUSED:
            _resume_run(em, run, cmd.inputs)
    em.emit(ExecutionResumed)


def on_wake_up(em: Emitter, cmd: WakeUp) -> None:
    run = em.current.task_runs.get(cmd.task_run_id)
    if (
        run is None
        or run.state != State.PAUSED
        or run.resume_at is None
        or cmd.time < run.resume_at
    ):
        return
    _resume_run(em, run, {})
    if run.timeout_fails:  # nobody resumed the Pause before its `timeout`
        em.end_task_run(run.id, State.FAILED, error="not resumed before its timeout")
    if em.current.state == State.PAUSED and not any(
        r.state == State.PAUSED for r in em.current.task_runs.values()
    ):
        em.emit(ExecutionResumed)


def _resume_run(em: Emitter, run: TaskRun, inputs: dict[str, Any]) -> None:
    # The walk ends the Pause: at once, or after its `tasks` ran (as in Kestra).
    em.emit(TaskRunResumed, task_run_id=run.id, inputs=inputs)


def on_subflow_ended(em: Emitter, cmd: SubflowEnded, flow: ValidatedFlow | None) -> None:
    run = em.current.task_runs.get(cmd.task_run_id)
    if run is not None and not run.state.is_terminal and for_each_item.is_iterative(run):
        for_each_item.on_child_ended(em, run, cmd)
        return
    if run is None or run.state.is_terminal or run.child_execution_id != cmd.child_execution_id:
        return
    decision = run.decision or {}
    transmit = bool(decision.get("transmitFailed", True))
    child_state = cmd.state if cmd.state in TASK_RUN_END_STATES else State.FAILED
    # As in Kestra: without transmitFailed, the child's failure is only reported in the
    # outputs (`state`), and the Subflow task itself succeeds.
    state = child_state if transmit or not child_state.is_failure else State.SUCCESS
    outputs = {
        "executionId": cmd.child_execution_id,
        "state": cmd.state.value,
        "outputs": cmd.outputs,
    }
    error = (
        None
        if not state.is_failure
        else f"subflow execution {cmd.child_execution_id} ended {cmd.state}"
    )
    if flow is None:
        em.end_task_run(run.id, state, outputs=outputs, error=error)
        return
    task = flow.tasks[run.task_id]
    if isinstance(task, Subflow) and task.outputs:
        try:
            extracted = render(task.outputs, {"outputs": cmd.task_outputs}, now=em.time)
            outputs["outputs"] = {**cmd.outputs, **extracted}
        except ExpressionError as exc:
            state, error = State.FAILED, f"task {task.id}: its outputs do not render: {exc}"
    # A retry policy starts a new child (Kestra retries Subflow tasks too).
    end_or_retry(em, flow, run, state, outputs=outputs, error=error)
