"""The facts: every event type on `execution-events` and `flow-events`.

Each execution event carries (execution_id, seq): the executor is the only writer, so
the sequence numbers of one execution are gapless and ordered, and a consumer that has
seen seq N can drop anything at or below it. `causation_id` names the input (command or
worker report) that caused the event; `correlation_id` is shared by an execution and
its subflows.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from schemas.execution import ParentRef, TaskRun
from schemas.metrics import TaskMetric
from schemas.states import State
from schemas.upcasting import register, upcasting
from schemas.worker import LogLine, WorkerJob

EVENT_VERSION = 1


class EventBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    execution_id: str
    seq: int
    time: dt.datetime
    actor: str = "system"
    causation_id: str
    correlation_id: str
    version: int = EVENT_VERSION
    # Every event names its flow, so an audit or an export can select events by namespace
    # without folding the history first (ExecutionCreated requires them).
    namespace: str | None = None
    flow_id: str | None = None

    @property
    def event_id(self) -> str:
        return f"{self.execution_id}:{self.seq}"


class ExecutionCreated(EventBase):
    type: Literal["ExecutionCreated"] = "ExecutionCreated"
    # v2: `time` is when the executor decided (as on every event); `requested` is when the
    # creation was asked for (the command's time), which can be long before.
    version: int = 2
    requested: dt.datetime | None = None
    tenant: str
    namespace: str
    flow_id: str
    flow_revision: int
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    parent: ParentRef | None = None
    trigger: dict[str, Any] | None = None
    # A replay starts with the task runs it carries over from its original execution.
    seed: tuple[TaskRun, ...] = ()
    original_id: str | None = None


@register("ExecutionCreated", 1)
def _execution_created_v1(data: dict[str, Any]) -> dict[str, Any]:
    """v1 was stamped with the request's time: it is both when asked and when decided."""
    return {**data, "requested": data.get("requested") or data.get("time")}


class ExecutionQueued(EventBase):
    """The flow's concurrency limit applies: the execution waits for the gate."""

    type: Literal["ExecutionQueued"] = "ExecutionQueued"
    limit: int
    behavior: Literal["QUEUE", "CANCEL", "FAIL"]


class ExecutionStarted(EventBase):
    type: Literal["ExecutionStarted"] = "ExecutionStarted"


class ExecutionPaused(EventBase):
    type: Literal["ExecutionPaused"] = "ExecutionPaused"


class ExecutionResumed(EventBase):
    type: Literal["ExecutionResumed"] = "ExecutionResumed"


class ExecutionKilling(EventBase):
    type: Literal["ExecutionKilling"] = "ExecutionKilling"
    kill_children: bool = True


class ExecutionRestarted(EventBase):
    """An operator restarts a failed execution: its failed task runs run again."""

    type: Literal["ExecutionRestarted"] = "ExecutionRestarted"
    task_run_ids: tuple[str, ...] = ()


class ExecutionReplayed(EventBase):
    """A new execution was started to repeat this one from a task run (a fact about the
    original, so its history links to the replay)."""

    type: Literal["ExecutionReplayed"] = "ExecutionReplayed"
    new_execution_id: str
    task_run_id: str | None = None
    revision: int


class ExecutionLabelsChanged(EventBase):
    """Labels added to (or overriding those of) the execution while it runs: by a
    Labels task, or by a violated SLA."""

    type: Literal["ExecutionLabelsChanged"] = "ExecutionLabelsChanged"
    labels: dict[str, str]


class ExecutionDeadlineSet(EventBase):
    """A flow's MAX_DURATION SLA gives the execution a deadline (a timer wakes it then)."""

    type: Literal["ExecutionDeadlineSet"] = "ExecutionDeadlineSet"
    sla_id: str
    deadline: dt.datetime


class _ExecutionEnded(EventBase):
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    # The flow's retry (behavior CREATE_NEW_EXECUTION) asks for a new execution then.
    next_attempt_id: str | None = None
    next_attempt_at: dt.datetime | None = None


class ExecutionSucceeded(_ExecutionEnded):
    type: Literal["ExecutionSucceeded"] = "ExecutionSucceeded"


class ExecutionWarned(_ExecutionEnded):
    type: Literal["ExecutionWarned"] = "ExecutionWarned"


class ExecutionFailed(_ExecutionEnded):
    type: Literal["ExecutionFailed"] = "ExecutionFailed"


class ExecutionKilled(_ExecutionEnded):
    type: Literal["ExecutionKilled"] = "ExecutionKilled"


class ExecutionCancelled(_ExecutionEnded):
    type: Literal["ExecutionCancelled"] = "ExecutionCancelled"


class TaskRunCreated(EventBase):
    type: Literal["TaskRunCreated"] = "TaskRunCreated"
    task_run_id: str
    task_id: str
    parent_id: str | None = None
    value: str | None = None
    iteration: int | None = None


class TaskRunStarted(EventBase):
    """The attempt began: in the executor itself, on a worker (`job`), or as a subflow."""

    type: Literal["TaskRunStarted"] = "TaskRunStarted"
    task_run_id: str
    attempt: int
    job: WorkerJob | None = None
    child_execution_id: str | None = None
    # What a flowable decided as it started (If branch, Switch case, ForEach values,
    # Subflow target): recorded so that later steps never evaluate it again.
    decision: dict[str, Any] | None = None


class TaskRunRunning(EventBase):
    """A worker picked the attempt up."""

    type: Literal["TaskRunRunning"] = "TaskRunRunning"
    task_run_id: str
    attempt: int
    worker_id: str


class TaskRunRetrying(EventBase):
    """The attempt failed and the task's retry policy asks for another at `retry_at`."""

    type: Literal["TaskRunRetrying"] = "TaskRunRetrying"
    task_run_id: str
    attempt: int
    retry_at: dt.datetime
    error: str | None = None
    # What the failed attempt measured before it failed (as on an ending).
    metrics: tuple[TaskMetric, ...] = ()


class TaskRunStateChanged(EventBase):
    """An operator set the task run's state by hand."""

    type: Literal["TaskRunStateChanged"] = "TaskRunStateChanged"
    task_run_id: str
    previous: State
    state: State


class TaskRunPaused(EventBase):
    type: Literal["TaskRunPaused"] = "TaskRunPaused"
    task_run_id: str
    resume_at: dt.datetime | None = None
    # The timer at resume_at fails the run rather than resuming it (a Pause `timeout`).
    timeout_fails: bool = False
    # The outputs the run shows while paused (a WaitFor between iterations: the
    # iterationCount of the next one); None leaves them as they are.
    outputs: dict[str, Any] | None = None


class TaskRunResumed(EventBase):
    type: Literal["TaskRunResumed"] = "TaskRunResumed"
    task_run_id: str
    inputs: dict[str, Any] = Field(default_factory=dict)


class SubflowIterationEnded(EventBase):
    """One of the subflow executions a ForEachItem (its `<id>_items` run) started ended."""

    type: Literal["SubflowIterationEnded"] = "SubflowIterationEnded"
    task_run_id: str
    child_execution_id: str
    state: State
    outputs: dict[str, Any] = Field(default_factory=dict)


class _TaskRunEnded(EventBase):
    task_run_id: str
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    # Log lines of a task that ran inside the executor travel with its ending, so a
    # re-emitted ending re-emits its logs too.
    logs: tuple[LogLine, ...] = ()
    # The attempt's counters, timers and gauges: the metrics view is folded from these.
    metrics: tuple[TaskMetric, ...] = ()


class TaskRunSucceeded(_TaskRunEnded):
    type: Literal["TaskRunSucceeded"] = "TaskRunSucceeded"


class TaskRunWarned(_TaskRunEnded):
    type: Literal["TaskRunWarned"] = "TaskRunWarned"


class TaskRunFailed(_TaskRunEnded):
    type: Literal["TaskRunFailed"] = "TaskRunFailed"


class TaskRunKilled(_TaskRunEnded):
    type: Literal["TaskRunKilled"] = "TaskRunKilled"


class TaskRunSkipped(_TaskRunEnded):
    type: Literal["TaskRunSkipped"] = "TaskRunSkipped"


ExecutionEnded = (
    ExecutionSucceeded | ExecutionWarned | ExecutionFailed | ExecutionKilled | ExecutionCancelled
)
TaskRunEnded = TaskRunSucceeded | TaskRunWarned | TaskRunFailed | TaskRunKilled | TaskRunSkipped

EXECUTION_END_STATES: dict[State, type[_ExecutionEnded]] = {
    State.SUCCESS: ExecutionSucceeded,
    State.WARNING: ExecutionWarned,
    State.FAILED: ExecutionFailed,
    State.KILLED: ExecutionKilled,
    State.CANCELLED: ExecutionCancelled,
}
TASK_RUN_END_STATES: dict[State, type[_TaskRunEnded]] = {
    State.SUCCESS: TaskRunSucceeded,
    State.WARNING: TaskRunWarned,
    State.FAILED: TaskRunFailed,
    State.KILLED: TaskRunKilled,
    State.SKIPPED: TaskRunSkipped,
}
# The same tables read the other way: the state an end event records. Derived, so an
# end event and its state cannot drift apart.
EXECUTION_ENDED_STATE: dict[type[EventBase], State] = {
    cls: state for state, cls in EXECUTION_END_STATES.items()
}
TASK_RUN_ENDED_STATE: dict[type[EventBase], State] = {
    cls: state for state, cls in TASK_RUN_END_STATES.items()
}
# The state each execution-level event moves its execution to: the one table of what
# those events mean (evolve folds with it; the flow trigger agent follows executions by
# it). ExecutionRestarted also restarts task runs, which evolve does first.
EXECUTION_STATE_OF: dict[type[EventBase], State] = {
    ExecutionQueued: State.QUEUED,
    ExecutionStarted: State.RUNNING,
    ExecutionPaused: State.PAUSED,
    ExecutionResumed: State.RUNNING,
    ExecutionKilling: State.KILLING,
    ExecutionRestarted: State.RESTARTED,
    **EXECUTION_ENDED_STATE,
}

ExecutionEvent = Annotated[
    ExecutionCreated
    | ExecutionQueued
    | ExecutionStarted
    | ExecutionPaused
    | ExecutionResumed
    | ExecutionKilling
    | ExecutionRestarted
    | ExecutionReplayed
    | ExecutionLabelsChanged
    | ExecutionDeadlineSet
    | ExecutionSucceeded
    | ExecutionWarned
    | ExecutionFailed
    | ExecutionKilled
    | ExecutionCancelled
    | TaskRunCreated
    | TaskRunStarted
    | TaskRunRunning
    | TaskRunRetrying
    | TaskRunStateChanged
    | TaskRunPaused
    | TaskRunResumed
    | SubflowIterationEnded
    | TaskRunSucceeded
    | TaskRunWarned
    | TaskRunFailed
    | TaskRunKilled
    | TaskRunSkipped,
    Field(discriminator="type"),
]
# Every reader decodes through these, so older event versions are upcast in one place.
EXECUTION_EVENT_ADAPTER: TypeAdapter[ExecutionEvent] = TypeAdapter(upcasting(ExecutionEvent))


class FlowEventBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    event_id: str
    tenant: str
    namespace: str
    flow_id: str
    revision: int
    time: dt.datetime
    actor: str
    version: int = EVENT_VERSION

    @property
    def key(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.flow_id}"


class FlowCreated(FlowEventBase):
    type: Literal["FlowCreated"] = "FlowCreated"
    source: str
    # The pluginDefaults of the flow's namespace and its parents in force when this
    # revision was written, most important first: part of what the revision means.
    namespace_defaults: list[dict[str, Any]] = Field(default_factory=list)


class FlowUpdated(FlowEventBase):
    type: Literal["FlowUpdated"] = "FlowUpdated"
    source: str
    namespace_defaults: list[dict[str, Any]] = Field(default_factory=list)


class FlowDeleted(FlowEventBase):
    type: Literal["FlowDeleted"] = "FlowDeleted"


FlowEvent = Annotated[FlowCreated | FlowUpdated | FlowDeleted, Field(discriminator="type")]
FLOW_EVENT_ADAPTER: TypeAdapter[FlowEvent] = TypeAdapter(upcasting(FlowEvent))
