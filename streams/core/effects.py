"""What the events of a step imply for the rest of the system (pure).

Derived from events rather than decided separately, so that re-emitted events
re-emit exactly the same jobs, commands and log lines.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from schemas.commands import Command, CreateExecution, KillExecution, SubflowEnded, WakeUp
from schemas.concurrency import GateRequest
from schemas.events import (
    EXECUTION_ENDED_STATE,
    ExecutionCancelled,
    ExecutionDeadlineSet,
    ExecutionEvent,
    ExecutionFailed,
    ExecutionKilled,
    ExecutionKilling,
    ExecutionQueued,
    ExecutionReplayed,
    ExecutionSucceeded,
    ExecutionWarned,
    TaskRunFailed,
    TaskRunKilled,
    TaskRunPaused,
    TaskRunRetrying,
    TaskRunSkipped,
    TaskRunStarted,
    TaskRunSucceeded,
    TaskRunWarned,
)
from schemas.execution import Execution, ParentRef
from schemas.flow import FlowRef
from schemas.states import State
from schemas.worker import LogLine, WorkerJob
from streams.core import for_each_item
from streams.core.context import outputs_view
from streams.core.replay_seed import replay_seed


@dataclass(frozen=True)
class StopJob:
    """Tell the worker running (task run, attempt) to stop it: the run was killed."""

    execution_id: str
    task_run_id: str
    attempt: int


@dataclass
class Effects:
    gate: list[GateRequest] = field(default_factory=list)
    jobs: list[WorkerJob] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    timers: list[WakeUp] = field(default_factory=list)
    stops: list[StopJob] = field(default_factory=list)
    # Commands to send at their `time`, not now (a flow retry's new execution).
    delayed: list[CreateExecution] = field(default_factory=list)


def wake_up(execution_id: str, task_run_id: str, due: dt.datetime) -> WakeUp:
    """The timer of a run's retry or timed pause. Its command id derives from the run and
    the time, so the executor's timer index and a rebuild after a restart make the same
    command, and a second copy is a redelivery."""
    return WakeUp(
        command_id=f"wake:{task_run_id}:{due.isoformat()}",
        execution_id=execution_id,
        time=due,
        actor="system",
        task_run_id=task_run_id,
        due=due,
    )


def effects_of(state: Execution, events: list[ExecutionEvent]) -> Effects:
    out = Effects()
    kill_children = not any(isinstance(e, ExecutionKilling) and not e.kill_children for e in events)
    parents = _Parents(state)
    for event in events:
        _gate_requests(state, event, out)
        if isinstance(event, ExecutionFailed) and event.next_attempt_id is not None:
            out.delayed.append(next_attempt(state))
        if isinstance(event, TaskRunStarted):
            if event.job is not None:
                out.jobs.append(event.job)
            if event.child_execution_id and event.decision:
                out.commands.append(_create_child(state, event))
            elif event.decision and "children" in event.decision:
                out.commands.extend(for_each_item.create_children(state, event))
        elif isinstance(
            event, TaskRunSucceeded | TaskRunWarned | TaskRunFailed | TaskRunKilled | TaskRunSkipped
        ):
            out.logs.extend(event.logs)
            if isinstance(event, TaskRunKilled):
                _stop_what_was_running(state, event, out, kill_children, parents)
        elif isinstance(event, TaskRunRetrying) and event.retry_at > event.time:
            out.timers.append(wake_up(event.execution_id, event.task_run_id, event.retry_at))
        elif isinstance(event, ExecutionReplayed):
            out.commands.append(_create_replay(state, event))
        elif isinstance(event, TaskRunPaused) and event.resume_at is not None:
            out.timers.append(wake_up(event.execution_id, event.task_run_id, event.resume_at))
        elif isinstance(event, ExecutionDeadlineSet):
            out.timers.append(wake_up(event.execution_id, f"sla:{event.sla_id}", event.deadline))
        elif type(event) in EXECUTION_ENDED_STATE and state.parent is not None:
            assert isinstance(
                event,
                ExecutionSucceeded
                | ExecutionWarned
                | ExecutionFailed
                | ExecutionKilled
                | ExecutionCancelled,
            )
            out.commands.append(
                SubflowEnded(
                    command_id=f"subflow-ended:{event.execution_id}",
                    execution_id=state.parent.execution_id,
                    time=event.time,
                    actor="system",
                    correlation_id=state.correlation_id,
                    task_run_id=state.parent.task_run_id,
                    child_execution_id=event.execution_id,
                    state=EXECUTION_ENDED_STATE[type(event)],
                    outputs=event.outputs,
                    task_outputs=outputs_view(state) if state.parent.wants_task_outputs else {},
                )
            )
    return out


def _gate_requests(state: Execution, event: ExecutionEvent, out: Effects) -> None:
    uid = state.flow_uid
    if isinstance(event, ExecutionQueued):
        out.gate.append(
            GateRequest(
                kind="acquire",
                flow_uid=uid,
                execution_id=state.id,
                time=event.time,
                limit=event.limit,
                behavior=event.behavior,
            )
        )
    elif type(event) in EXECUTION_ENDED_STATE and any(
        h.state == State.QUEUED for h in state.history
    ):
        # It held (or waited for) a slot: free it for the next one in the queue.
        out.gate.append(
            GateRequest(kind="release", flow_uid=uid, execution_id=state.id, time=event.time)
        )


class _Parents:
    """The ids of runs that have runs under them, read once, and only if a run is killed."""

    def __init__(self, state: Execution) -> None:
        self._state = state
        self._ids: set[str] | None = None

    def has(self, run_id: str) -> bool:
        if self._ids is None:
            self._ids = {r.parent_id for r in self._state.task_runs.values() if r.parent_id}
        return run_id in self._ids


def _stop_what_was_running(
    state: Execution, event: TaskRunKilled, out: Effects, kill_children: bool, parents: _Parents
) -> None:
    run = state.task_runs[event.task_run_id]
    if for_each_item.is_iterative(run):
        if kill_children:
            out.commands.extend(
                for_each_item.kill_children(state, run, event.time, event.actor, event.seq)
            )
    elif run.child_execution_id is not None:
        if not kill_children:
            return
        out.commands.append(
            KillExecution(
                command_id=f"kill:{run.child_execution_id}:{event.execution_id}:{event.seq}",
                execution_id=run.child_execution_id,
                time=event.time,
                actor=event.actor,
                correlation_id=state.correlation_id,
            )
        )
    elif run.attempts and (run.attempts[-1].worker_id is not None or not parents.has(run.id)):
        # Also when no worker has reported the attempt yet: a worker reports "started"
        # only for a task still running after a delay, and may be running it already.
        # A flowable (a parent of runs) has no job; a stop that no worker runs is ignored.
        out.stops.append(StopJob(event.execution_id, run.id, run.attempts[-1].number))


def next_attempt(state: Execution) -> CreateExecution:
    """The new execution a flow retry (CREATE_NEW_EXECUTION) asks for, at its due time."""
    assert state.next_attempt_id is not None and state.next_attempt_at is not None
    trigger = state.trigger or {}
    retrying = trigger.get("type") == "retry"
    return CreateExecution(
        command_id=f"retry:{state.next_attempt_id}",
        execution_id=state.next_attempt_id,
        time=state.next_attempt_at,
        actor="system",
        correlation_id=state.correlation_id,
        flow=FlowRef(
            tenant=state.tenant,
            namespace=state.namespace,
            flow_id=state.flow_id,
            revision=state.flow_revision,
        ),
        inputs=state.inputs,
        labels=state.labels,
        trigger={
            "type": "retry",
            "originalId": trigger.get("originalId", state.id) if retrying else state.id,
            "attempt": int(trigger.get("attempt", 1)) + 1 if retrying else 2,
            "firstStart": trigger.get("firstStart", state.created.isoformat())
            if retrying
            else state.created.isoformat(),
            "previousId": state.id,
        },
    )


def _create_replay(state: Execution, event: ExecutionReplayed) -> CreateExecution:
    return CreateExecution(
        command_id=f"replay:{event.new_execution_id}",
        execution_id=event.new_execution_id,
        time=event.time,
        actor=event.actor,
        flow=FlowRef(
            tenant=state.tenant,
            namespace=state.namespace,
            flow_id=state.flow_id,
            revision=event.revision,
        ),
        inputs=state.inputs,
        labels=state.labels,
        trigger={"type": "replay", "originalId": state.id, "taskRunId": event.task_run_id},
        seed=replay_seed(state, event.task_run_id),
        original_id=state.id,
    )


def _create_child(state: Execution, event: TaskRunStarted) -> CreateExecution:
    decision = event.decision or {}
    run = state.task_runs[event.task_run_id]
    return CreateExecution(
        command_id=f"create:{event.child_execution_id}",
        execution_id=str(event.child_execution_id),
        time=event.time,
        actor=f"subflow:{state.namespace}.{state.flow_id}",
        correlation_id=state.correlation_id,
        flow=FlowRef(
            tenant=state.tenant,
            namespace=str(decision["namespace"]),
            flow_id=str(decision["flowId"]),
            revision=int(decision["revision"]),
        ),
        inputs=dict(decision.get("inputs") or {}),
        labels=dict(decision.get("labels") or {}),
        parent=ParentRef(
            execution_id=state.id,
            task_run_id=run.id,
            namespace=state.namespace,
            flow_id=state.flow_id,
            wants_task_outputs=bool(decision.get("extract")),
        ),
    )
