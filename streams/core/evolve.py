"""evolve(state, event) -> state: the only place where an event's meaning is written down.

The executor, the projections, time travel and history verification all fold events with it,
so they cannot disagree. It refuses a history with a gap or an illegal transition
instead of folding it silently.
"""

from __future__ import annotations

from schemas.events import (
    EXECUTION_STATE_OF,
    TASK_RUN_ENDED_STATE,
    ExecutionCancelled,
    ExecutionCreated,
    ExecutionDeadlineSet,
    ExecutionEvent,
    ExecutionFailed,
    ExecutionKilled,
    ExecutionLabelsChanged,
    ExecutionReplayed,
    ExecutionRestarted,
    ExecutionSucceeded,
    ExecutionWarned,
    SubflowIterationEnded,
    TaskRunCreated,
    TaskRunFailed,
    TaskRunKilled,
    TaskRunPaused,
    TaskRunResumed,
    TaskRunRetrying,
    TaskRunRunning,
    TaskRunSkipped,
    TaskRunStarted,
    TaskRunStateChanged,
    TaskRunSucceeded,
    TaskRunWarned,
)
from schemas.execution import Attempt, Execution, StateEntry, TaskRun
from schemas.states import State, execution_may_move, task_run_may_move
from streams.core import for_each_item


class HistoryError(ValueError):
    """An event that cannot follow the state: a gap, a repeat, or an illegal transition."""

    def __init__(self, execution_id: str, seq: int, message: str) -> None:
        super().__init__(f"execution {execution_id}, event {seq}: {message}")
        self.execution_id = execution_id
        self.seq = seq


def evolve(state: Execution | None, event: ExecutionEvent) -> Execution:
    if isinstance(event, ExecutionCreated):
        if state is not None:
            raise HistoryError(event.execution_id, event.seq, "created twice")
        if event.seq != 1:
            raise HistoryError(event.execution_id, event.seq, "history must start at seq 1")
        return Execution(
            id=event.execution_id,
            tenant=event.tenant,
            namespace=event.namespace,
            flow_id=event.flow_id,
            flow_revision=event.flow_revision,
            inputs=event.inputs,
            labels=event.labels,
            variables=event.variables,
            parent=event.parent,
            trigger=event.trigger,
            task_runs={run.id: run for run in event.seed},
            original_id=event.original_id,
            correlation_id=event.correlation_id,
            created=event.time,
            history=(StateEntry(state=State.CREATED, date=event.time),),
            seq=1,
        )
    if state is None:
        raise HistoryError(event.execution_id, event.seq, f"{event.type} before ExecutionCreated")
    if event.seq != state.seq + 1:
        raise HistoryError(
            event.execution_id, event.seq, f"expected seq {state.seq + 1} after {state.seq}"
        )
    if isinstance(event, ExecutionRestarted):
        return _restart(state, event)
    if isinstance(event, ExecutionReplayed):
        return state.model_copy(update={"seq": event.seq})
    if isinstance(event, ExecutionLabelsChanged):
        if state.state.is_terminal:
            raise HistoryError(state.id, event.seq, f"labels changed on a {state.state} execution")
        labels = {**state.labels, **event.labels}
        return state.model_copy(update={"labels": labels, "seq": event.seq})
    if isinstance(event, ExecutionDeadlineSet):
        deadlines = {**state.deadlines, event.sla_id: event.deadline}
        return state.model_copy(update={"deadlines": deadlines, "seq": event.seq})
    target = EXECUTION_STATE_OF.get(type(event))
    if target is not None:
        return _move_execution(state, event, target)
    return _evolve_task_run(state, event).model_copy(update={"seq": event.seq})


def _move_execution(state: Execution, event: ExecutionEvent, target: State) -> Execution:
    if not execution_may_move(state.state, target):
        raise HistoryError(state.id, event.seq, f"execution cannot move {state.state} -> {target}")
    update: dict[str, object] = {
        "state": target,
        "history": (*state.history, StateEntry(state=target, date=event.time)),
        "seq": event.seq,
    }
    if target.is_terminal:
        assert isinstance(
            event,
            ExecutionSucceeded
            | ExecutionWarned
            | ExecutionFailed
            | ExecutionKilled
            | ExecutionCancelled,
        )
        update["ended"] = event.time
        update["outputs"] = event.outputs
        update["error"] = event.error
        update["next_attempt_id"] = event.next_attempt_id
        update["next_attempt_at"] = event.next_attempt_at
    return state.model_copy(update=update)


def _restart(state: Execution, event: ExecutionRestarted) -> Execution:
    moved = _move_execution(state, event, State.RESTARTED)
    runs = dict(moved.task_runs)
    for run_id in event.task_run_ids:
        run = runs.get(run_id)
        if run is None:
            raise HistoryError(state.id, event.seq, f"restart of unknown task run {run_id}")
        runs[run_id] = _moved(state, run, event, State.RESTARTED)
    return moved.model_copy(update={"task_runs": runs, "ended": None, "error": None, "outputs": {}})


def _replace_run(state: Execution, run: TaskRun) -> Execution:
    runs = dict(state.task_runs)
    runs[run.id] = run
    return state.model_copy(update={"task_runs": runs})


def _moved(state: Execution, run: TaskRun, event: ExecutionEvent, target: State) -> TaskRun:
    if not task_run_may_move(run.state, target):
        raise HistoryError(
            state.id,
            event.seq,
            f"task run {run.task_id} ({run.id}) cannot move {run.state} -> {target}",
        )
    return run.model_copy(
        update={
            "state": target,
            "history": (*run.history, StateEntry(state=target, date=event.time)),
        }
    )


def _evolve_task_run(state: Execution, event: ExecutionEvent) -> Execution:
    if isinstance(event, TaskRunCreated):
        if event.task_run_id in state.task_runs:
            raise HistoryError(state.id, event.seq, f"task run {event.task_run_id} created twice")
        run = TaskRun(
            id=event.task_run_id,
            task_id=event.task_id,
            parent_id=event.parent_id,
            value=event.value,
            iteration=event.iteration,
            history=(StateEntry(state=State.CREATED, date=event.time),),
        )
        return _replace_run(state, run)

    run_id = getattr(event, "task_run_id", None)
    found = state.task_runs.get(run_id) if isinstance(run_id, str) else None
    if found is None:
        raise HistoryError(state.id, event.seq, f"{event.type} for unknown task run {run_id}")
    run = found

    if isinstance(event, TaskRunStarted):
        moved = _moved(state, run, event, State.RUNNING)
        attempt = Attempt(number=event.attempt, state=State.RUNNING, start=event.time)
        moved = moved.model_copy(
            update={
                "attempts": (*run.attempts, attempt),
                "decision": event.decision,
                # A flowable shows outputs while it runs when its decision says so, as
                # Kestra sets them on start (a WaitFor's iterationCount).
                "outputs": (event.decision or {}).get("outputs", run.outputs),
                "child_execution_id": event.child_execution_id,
                "retry_at": None,
                "error": None,
            }
        )
        return _replace_run(state, moved)
    if isinstance(event, TaskRunRunning):
        attempts = list(run.attempts)
        if attempts:
            attempts[-1] = attempts[-1].model_copy(update={"worker_id": event.worker_id})
        return _replace_run(state, run.model_copy(update={"attempts": tuple(attempts)}))
    if isinstance(event, TaskRunRetrying):
        moved = _moved(state, run, event, State.RETRYING)
        attempts = list(moved.attempts)
        if attempts:
            attempts[-1] = attempts[-1].model_copy(
                update={"state": State.FAILED, "end": event.time, "error": event.error}
            )
        return _replace_run(
            state,
            moved.model_copy(
                update={
                    "attempts": tuple(attempts),
                    "retry_at": event.retry_at,
                    "error": event.error,
                }
            ),
        )
    if isinstance(event, TaskRunStateChanged):
        # An operator's decision, not a transition the engine makes: the table does not
        # apply, but only a terminal state can be set by hand.
        if not event.state.is_terminal or run.state != event.previous:
            raise HistoryError(
                state.id, event.seq, f"task run {run.id} cannot be set to {event.state} by hand"
            )
        changed = run.model_copy(
            update={
                "state": event.state,
                "history": (*run.history, StateEntry(state=event.state, date=event.time)),
                "error": None if not event.state.is_failure else run.error,
            }
        )
        return _replace_run(state, changed)
    if isinstance(event, TaskRunPaused):
        moved = _moved(state, run, event, State.PAUSED)
        outputs = run.outputs if event.outputs is None else event.outputs
        return _replace_run(
            state,
            moved.model_copy(
                update={
                    "resume_at": event.resume_at,
                    "timeout_fails": event.timeout_fails,
                    "outputs": outputs,
                }
            ),
        )
    if isinstance(event, SubflowIterationEnded):
        if run.state != State.RUNNING:
            raise HistoryError(state.id, event.seq, f"task run {run.id} is not running")
        return _replace_run(state, for_each_item.record(run, event))
    if isinstance(event, TaskRunResumed):
        moved = _moved(state, run, event, State.RUNNING)
        # A Pause shows what it was resumed with; other outputs (a WaitFor's) stay.
        kept = {k: v for k, v in run.outputs.items() if k != "onResume"}
        resumed = {"onResume": event.inputs} if event.inputs else kept
        cleared = {"resume_at": None, "timeout_fails": False, "outputs": resumed}
        return _replace_run(state, moved.model_copy(update=cleared))
    target = TASK_RUN_ENDED_STATE.get(type(event))
    if target is not None:
        assert isinstance(
            event, TaskRunSucceeded | TaskRunWarned | TaskRunFailed | TaskRunKilled | TaskRunSkipped
        )
        moved = _moved(state, run, event, target)
        attempts = list(moved.attempts)
        if attempts and attempts[-1].end is None:
            attempts[-1] = attempts[-1].model_copy(update={"state": target, "end": event.time})
        moved = moved.model_copy(
            update={"outputs": event.outputs, "error": event.error, "attempts": tuple(attempts)}
        )
        return _replace_run(state, moved)
    raise HistoryError(state.id, event.seq, f"unknown event type {event.type}")


def fold(events: list[ExecutionEvent], state: Execution | None = None) -> Execution | None:
    for event in events:
        state = evolve(state, event)
    return state
