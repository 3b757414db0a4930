"""Messages between the executor and its workers (worker-jobs, worker-results)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.metrics import TaskMetric
from schemas.states import State


class WorkerJob(BaseModel):
    """A rendered task for a worker; (task_run_id, attempt) identifies it."""

    model_config = ConfigDict(frozen=True)

    execution_id: str
    task_run_id: str
    task_id: str
    attempt: int
    task: dict[str, Any]
    tenant: str
    namespace: str
    flow_id: str
    value: str | None = None
    dispatched: dt.datetime
    deadline: dt.datetime | None = None
    # A WorkingDirectory's job: the variables its tasks render with (as the executor saw
    # them at dispatch); the worker adds each task's outputs for the ones after it.
    context: dict[str, Any] | None = None

    @property
    def job_id(self) -> str:
        return f"{self.task_run_id}/{self.attempt}"


class LogLine(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    flow_id: str
    execution_id: str
    task_run_id: str | None = None
    task_id: str | None = None
    attempt: int | None = None
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] = "INFO"
    message: str
    time: dt.datetime
    # Position of the line within its task run attempt: with the ids it makes the log id.
    index: int = 0

    @property
    def log_id(self) -> str:
        return f"{self.execution_id}/{self.task_run_id}/{self.attempt}/{self.index}"


class ChildRunReport(BaseModel):
    """How one task inside a WorkingDirectory ended (it ran within the WorkingDirectory's
    job): the executor records it as a task run of its own."""

    model_config = ConfigDict(frozen=True)

    task_run_id: str
    task_id: str
    state: State
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    metrics: tuple[TaskMetric, ...] = ()


class TaskRunReport(BaseModel):
    """What a worker says about one attempt of a task run."""

    model_config = ConfigDict(frozen=True)

    type: Literal["TaskRunReport"] = "TaskRunReport"
    # "abandoned": a worker shutting down hands the attempt back without finishing it.
    kind: Literal["started", "finished", "heartbeat", "abandoned"]
    execution_id: str
    task_run_id: str
    attempt: int
    worker_id: str
    time: dt.datetime
    state: State | None = None
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    # A WorkingDirectory's "finished" report: its tasks, in the order they ran.
    children: tuple[ChildRunReport, ...] = ()
    # Counters, timers and gauges the attempt reported ("finished" only).
    metrics: tuple[TaskMetric, ...] = ()

    @property
    def message_id(self) -> str:
        suffix = f"/{self.time.isoformat()}" if self.kind == "heartbeat" else ""
        return f"report:{self.task_run_id}/{self.attempt}/{self.kind}{suffix}"
