"""The emitter: stamps events with seq, time and causality, and folds each as it goes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schemas.commands import (
    CreateExecution,
    ExecutorMessage,
)
from schemas.events import (
    TASK_RUN_END_STATES,
    EventBase,
    ExecutionEvent,
)
from schemas.execution import Execution
from schemas.states import State
from schemas.worker import TaskRunReport
from streams.core.evolve import evolve


def actor_of(inp: ExecutorMessage) -> str:
    if isinstance(inp, TaskRunReport):
        return f"worker:{inp.worker_id}"
    return inp.actor


class Emitter:
    """Stamps events with seq, time and causality, and folds each one as it is emitted.

    `now` is the decision time: when the executor took the message up (its edge reads the
    clock once per message, and a replay reads it back from the first recorded event the
    message caused). Every event of one decision carries it; the message's own `time` (when
    the request was made, when the worker reported) stays on the message. Without `now`,
    the message's time is used: histories recorded before decision times, and tests that
    drive the core with one fake clock."""

    def __init__(
        self, state: Execution | None, inp: ExecutorMessage, now: dt.datetime | None = None
    ) -> None:
        self.state = state
        self.events: list[ExecutionEvent] = []
        self.time = inp.time if now is None else now
        self.causation = inp.message_id
        self.actor = actor_of(inp)
        if state is not None:
            self.correlation = state.correlation_id
        elif isinstance(inp, CreateExecution):
            self.correlation = inp.correlation_id or inp.command_id
        else:
            self.correlation = inp.message_id

    @property
    def current(self) -> Execution:
        assert self.state is not None
        return self.state

    def emit(self, cls: type[EventBase], **fields: Any) -> None:
        seq = 1 if self.state is None else self.state.seq + 1
        if self.state is not None:
            fields.setdefault("namespace", self.state.namespace)
            fields.setdefault("flow_id", self.state.flow_id)
        event: Any = cls(
            execution_id=fields.pop("execution_id", None) or self.current.id,
            seq=seq,
            time=self.time,
            actor=self.actor,
            causation_id=self.causation,
            correlation_id=self.correlation,
            **fields,
        )
        self.state = evolve(self.state, event)
        self.events.append(event)

    def end_task_run(self, run_id: str, state: State, **fields: Any) -> None:
        self.emit(TASK_RUN_END_STATES[state], task_run_id=run_id, **fields)
