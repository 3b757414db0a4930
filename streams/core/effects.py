"""What the events of a step imply for the rest of the system (pure).

Derived from events rather than decided separately, so that re-emitted events
re-emit exactly the same jobs, commands and log lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from schemas.commands import Command, CreateExecution, SubflowEnded, WakeUp
from schemas.events import (
    ExecutionEvent,
    ExecutionFailed,
    ExecutionKilled,
    ExecutionSucceeded,
    ExecutionWarned,
    TaskRunFailed,
    TaskRunKilled,
    TaskRunPaused,
    TaskRunSkipped,
    TaskRunStarted,
    TaskRunSucceeded,
    TaskRunWarned,
)
from schemas.execution import Execution, ParentRef
from schemas.flow import FlowRef
from schemas.states import State
from schemas.worker import LogLine, WorkerJob

_END_STATE = {
    ExecutionSucceeded: State.SUCCESS,
    ExecutionWarned: State.WARNING,
    ExecutionFailed: State.FAILED,
    ExecutionKilled: State.KILLED,
}


@dataclass
class Effects:
    jobs: list[WorkerJob] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    timers: list[WakeUp] = field(default_factory=list)


def effects_of(state: Execution, events: list[ExecutionEvent]) -> Effects:
    out = Effects()
    for event in events:
        if isinstance(event, TaskRunStarted):
            if event.job is not None:
                out.jobs.append(event.job)
            if event.child_execution_id and event.decision:
                out.commands.append(_create_child(state, event))
        elif isinstance(
            event, TaskRunSucceeded | TaskRunWarned | TaskRunFailed | TaskRunKilled | TaskRunSkipped
        ):
            out.logs.extend(event.logs)
        elif isinstance(event, TaskRunPaused) and event.resume_at is not None:
            out.timers.append(
                WakeUp(
                    command_id=f"wake:{event.task_run_id}:{event.resume_at.isoformat()}",
                    execution_id=event.execution_id,
                    time=event.resume_at,
                    actor="system",
                    task_run_id=event.task_run_id,
                    due=event.resume_at,
                )
            )
        elif type(event) in _END_STATE and state.parent is not None:
            assert isinstance(
                event, ExecutionSucceeded | ExecutionWarned | ExecutionFailed | ExecutionKilled
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
                    state=_END_STATE[type(event)],
                    outputs=event.outputs,
                )
            )
    return out


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
        ),
    )
