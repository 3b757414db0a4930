"""Answers of /api/v1/executions and /api/v1/logs: an execution in Kestra's shape
(projections/views/kestra_shape.py writes it), its events, its log lines."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from api.web.models import JSON_ERRORS, Answer, Document, Label
from schemas.states import State


class StateChange(Document):
    state: State
    date: str = Field(description="ISO-8601")


class StateView(Document):
    """Kestra's State: the current one, how it got there, and its times."""

    current: State
    histories: list[StateChange]
    startDate: str | None
    endDate: str | None
    duration: float | None = Field(description="Seconds from the start to the end")


class AttemptState(Document):
    current: State
    startDate: str | None
    endDate: str | None


class AttemptView(Document):
    number: int
    workerId: str | None
    state: AttemptState


class TaskRunView(Document):
    id: str
    executionId: str
    namespace: str
    flowId: str
    taskId: str
    parentTaskRunId: str | None
    value: str | None
    iteration: int | None
    state: StateView
    attempts: list[AttemptView]
    outputs: dict[str, Any]
    error: str | None
    childExecutionId: str | None


class AsOfPoint(Answer):
    """The event an `asOf` read stopped at."""

    seq: int
    time: str
    lastSeq: int


class ExecutionView(Document):
    """An execution as Kestra's API shows it, with Lanner's event sequence number."""

    id: str
    tenantId: str
    namespace: str
    flowId: str
    flowRevision: int
    state: StateView
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    labels: list[Label]
    taskRunList: list[TaskRunView]
    parentId: str | None
    originalId: str
    trigger: dict[str, Any] | None
    correlationId: str | None
    error: str | None
    seq: int = Field(description="The last event folded into this view")
    asOf: AsOfPoint | None = Field(None, description="Only on an `asOf` read")


class ExecutionAccepted(Answer):
    """202: the execution is requested (on the log) but not yet in the views."""

    id: str
    namespace: str
    flowId: str
    message: str


class ExecutionPage(Answer):
    results: list[ExecutionView]
    total: int = Field(description="Executions matching, over every page")


class ExecutionEventView(Document):
    """One event of an execution's history (schemas/events.py), with its id. The fields
    beyond these depend on `type`."""

    event_id: str = Field(description="<execution_id>:<seq>")
    type: str
    execution_id: str
    seq: int
    time: str
    actor: str
    causation_id: str
    correlation_id: str
    version: int


class LogLineView(Document):
    id: str
    tenantId: str
    namespace: str
    flowId: str
    executionId: str
    taskRunId: str | None
    taskId: str | None
    attemptNumber: int | None
    level: Literal["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
    levelRank: int
    message: str
    timestamp: str
    index: int


# Streamed and file answers: their media type and what they carry.
FOLLOW_EXECUTION: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "Server-sent events: `execution` (data: the execution, as GET returns it, id: its "
            "seq) on every change, then `end` (data: {id, state}) once it ended"
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
FOLLOW_LOGS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "Server-sent events: `log` (data: a log line, as GET /logs/{id} returns them) for "
            "each new line, then `end` (data: {id, state}) once the execution ended"
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}
FILE_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, as an attachment named after the file",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
LOG_DOWNLOAD: dict[int | str, dict[str, Any]] = {
    **JSON_ERRORS,
    200: {
        "description": "The log lines as text, one a line: time, level, [task id], message",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
}
