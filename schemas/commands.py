"""Requests to the executor (topic `commands`, key = execution id).

A command is a wish, not a fact: the executor decides whether it applies and records
the facts as events. Every command has a unique `command_id`, which is how the executor
recognises a command delivered twice.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.execution import Execution, ParentRef, TaskRun
from schemas.flow import FlowRef
from schemas.states import State
from schemas.worker import TaskRunReport


class CommandBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    command_id: str
    execution_id: str
    time: dt.datetime
    actor: str = "system"
    correlation_id: str | None = None

    @property
    def message_id(self) -> str:
        return f"command:{self.command_id}"


class CreateExecution(CommandBase):
    type: Literal["CreateExecution"] = "CreateExecution"
    flow: FlowRef
    # The sender resolved the flow; carrying its source keeps the executor independent of
    # how fast its own view of flow-events is.
    flow_source: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    parent: ParentRef | None = None
    trigger: dict[str, Any] | None = None
    # A replay: the task runs carried over from the original execution.
    seed: list[TaskRun] = Field(default_factory=list)
    original_id: str | None = None


class KillExecution(CommandBase):
    type: Literal["KillExecution"] = "KillExecution"
    # Also kill the running subflow executions it started (Kestra's "kill with children").
    kill_children: bool = True


class ResumeExecution(CommandBase):
    type: Literal["ResumeExecution"] = "ResumeExecution"
    inputs: dict[str, Any] = Field(default_factory=dict)


class PauseExecution(CommandBase):
    """An operator pauses a running execution (Kestra's POST .../pause): what runs on
    workers finishes and is recorded, nothing new starts until it is resumed."""

    type: Literal["PauseExecution"] = "PauseExecution"


class OnFinishedBase(CommandBase):
    """An operator's command that may reach a finished execution. A finished execution
    leaves the executor's table after a while (the log keeps its history, the views keep
    serving it), so the sender carries the execution as its view holds it: an executor
    that has forgotten the execution takes it up from there."""

    known_state: Execution | None = None


class RestartExecution(OnFinishedBase):
    """Run a failed (or killed) execution again from its failed task runs."""

    type: Literal["RestartExecution"] = "RestartExecution"


class ReplayExecution(OnFinishedBase):
    """Start a new execution that repeats this one from `task_run_id` on (sent to the
    original execution, which knows what to carry over)."""

    type: Literal["ReplayExecution"] = "ReplayExecution"
    new_execution_id: str
    task_run_id: str | None = None
    revision: int | None = None


class ChangeTaskRunState(OnFinishedBase):
    """An operator sets a task run's state by hand; the execution then carries on."""

    type: Literal["ChangeTaskRunState"] = "ChangeTaskRunState"
    task_run_id: str
    state: State


class WorkerLost(CommandBase):
    """The health loop saw no heartbeat for a running attempt: run it again elsewhere."""

    type: Literal["WorkerLost"] = "WorkerLost"
    task_run_id: str
    attempt: int
    worker_id: str


class AdmitExecution(CommandBase):
    """The concurrency gate gives a queued execution its slot."""

    type: Literal["AdmitExecution"] = "AdmitExecution"


class RefuseExecution(CommandBase):
    """The concurrency gate refuses a queued execution (behavior CANCEL or FAIL)."""

    type: Literal["RefuseExecution"] = "RefuseExecution"
    state: Literal[State.CANCELLED, State.FAILED]
    reason: str


class WakeUp(CommandBase):
    """A timer the executor set (a Pause delay, a retry) is due."""

    type: Literal["WakeUp"] = "WakeUp"
    task_run_id: str
    due: dt.datetime


class SubflowEnded(CommandBase):
    """A child execution ended: tells the parent execution's Subflow task run."""

    type: Literal["SubflowEnded"] = "SubflowEnded"
    task_run_id: str
    child_execution_id: str
    state: State
    outputs: dict[str, Any] = Field(default_factory=dict)
    # The child's task outputs (`outputs.<task>...`), when the parent asked for them.
    task_outputs: dict[str, Any] = Field(default_factory=dict)


class ForgetExecution(CommandBase):
    """The executor's housekeeping, sent to itself: a finished execution (or inputs parked
    for an execution that never came) leaves the table once its retention has passed.
    Applied only if the record may still be forgotten then; it decides nothing."""

    type: Literal["ForgetExecution"] = "ForgetExecution"


Command = Annotated[
    CreateExecution
    | KillExecution
    | ResumeExecution
    | PauseExecution
    | RestartExecution
    | ReplayExecution
    | ChangeTaskRunState
    | WorkerLost
    | AdmitExecution
    | RefuseExecution
    | WakeUp
    | SubflowEnded
    | ForgetExecution,
    Field(discriminator="type"),
]
ExecutorMessage = Annotated[
    CreateExecution
    | KillExecution
    | ResumeExecution
    | PauseExecution
    | RestartExecution
    | ReplayExecution
    | ChangeTaskRunState
    | WorkerLost
    | AdmitExecution
    | RefuseExecution
    | WakeUp
    | SubflowEnded
    | ForgetExecution
    | TaskRunReport,
    Field(discriminator="type"),
]

COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)
EXECUTOR_MESSAGE_ADAPTER: TypeAdapter[ExecutorMessage] = TypeAdapter(ExecutorMessage)
