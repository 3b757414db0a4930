"""An execution and its task runs, as the executor folds them from events.

The same model is the executor's state and the executions view's document, so the
view can never disagree with the executor about what an event means.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import State


class StateEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: State
    date: dt.datetime


class Attempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    state: State
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    worker_id: str | None = None
    error: str | None = None


class ParentRef(BaseModel):
    """The execution and task run (a Subflow task) that started this execution."""

    model_config = ConfigDict(frozen=True)

    execution_id: str
    task_run_id: str
    namespace: str
    flow_id: str
    # The parent's Subflow task extracts values from this execution's task outputs when
    # it ends (Kestra's Subflow `outputs`): send them along with SubflowEnded.
    wants_task_outputs: bool = False


class TaskRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    task_id: str
    parent_id: str | None = None
    value: str | None = None
    iteration: int | None = None
    state: State = State.CREATED
    history: tuple[StateEntry, ...] = ()
    attempts: tuple[Attempt, ...] = ()
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    resume_at: dt.datetime | None = None
    # Reaching resume_at fails the run (a Pause's `timeout`) instead of resuming it.
    timeout_fails: bool = False
    retry_at: dt.datetime | None = None
    child_execution_id: str | None = None
    decision: dict[str, Any] | None = None

    @property
    def attempt_number(self) -> int:
        return self.attempts[-1].number if self.attempts else 0

    @property
    def start(self) -> dt.datetime | None:
        return self.history[0].date if self.history else None


class Execution(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    namespace: str
    flow_id: str
    flow_revision: int
    state: State = State.CREATED
    history: tuple[StateEntry, ...] = ()
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    task_runs: dict[str, TaskRun] = Field(default_factory=dict)
    parent: ParentRef | None = None
    trigger: dict[str, Any] | None = None
    correlation_id: str
    created: dt.datetime
    ended: dt.datetime | None = None
    error: str | None = None
    original_id: str | None = None
    next_attempt_id: str | None = None
    next_attempt_at: dt.datetime | None = None
    # MAX_DURATION SLA id -> when the execution violates it (a timer wakes it then).
    deadlines: dict[str, dt.datetime] = Field(default_factory=dict)
    # Sequence number of the last event folded into this state.
    seq: int = 0

    @property
    def flow_uid(self) -> str:
        return f"{self.tenant}/{self.namespace}/{self.flow_id}"

    def ancestors(self, run: TaskRun | None) -> list[TaskRun]:
        """The task runs enclosing `run`, innermost first."""
        found: list[TaskRun] = []
        current = self.task_runs.get(run.parent_id) if run and run.parent_id else None
        while current is not None:
            found.append(current)
            current = self.task_runs.get(current.parent_id) if current.parent_id else None
        return found

    def runs_under(self, parent_id: str | None, value: str | None = None) -> list[TaskRun]:
        return [
            r
            for r in self.task_runs.values()
            if r.parent_id == parent_id and (value is None or r.value == value)
        ]
