"""The write side for executions: check inputs, then append CreateExecution and friends."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.commands import (
    ChangeTaskRunState,
    Command,
    CreateExecution,
    KillExecution,
    PauseExecution,
    ReplayExecution,
    RestartExecution,
    ResumeExecution,
)
from schemas.execution import Execution
from schemas.flow import FlowRef
from schemas.inputs import coerce_inputs
from schemas.settings import Limits
from schemas.states import State
from streams.core.ids import base62
from streams.core.messages import as_created
from streams.flow_catalog import FlowSources
from streams.log.async_sends import AsyncSends
from streams.log.producer import LogProducer
from streams.log.topics import Topics


class InvalidInputs(ValueError):
    def __init__(self, flow: str, errors: list[str]) -> None:
        super().__init__(f"flow {flow}: " + "; ".join(errors))
        self.errors = errors


class UnknownFlow(LookupError):
    pass


class InputsTooLarge(ValueError):
    """Inputs (and labels) whose JSON is over `limits.input_bytes`: refused before anything
    is written, rather than failing on the broker's message size (MSG_SIZE_TOO_LARGE)."""

    limit = "input_bytes"

    def __init__(self, what: str, size: int, max_bytes: int) -> None:
        super().__init__(
            f"{what}: the inputs are {size} bytes as JSON; the limit is {max_bytes} bytes "
            "(limits.input_bytes, LANNER_LIMITS_INPUT_BYTES); pass large data as a FILE input"
        )
        self.size = size
        self.max_bytes = max_bytes


class InputsTooDeep(InvalidInputs):
    def __init__(self, what: str, problem: str) -> None:
        ValueError.__init__(self, f"{what}: {problem}")
        self.errors = [problem]


def check_input_size(
    what: str, inputs: Mapping[str, Any], limits: Limits, labels: Mapping[str, str] | None = None
) -> None:
    """InputsTooLarge when the inputs and labels, as JSON, are over limits.input_bytes;
    InvalidInputs when a value nests deeper than limits.input_depth."""
    for name, value in inputs.items():
        if _depth(value, limits.input_depth) > limits.input_depth:
            raise InputsTooDeep(
                what,
                f"input {name!r} nests more than {limits.input_depth} "
                "levels deep (limits.input_depth, LANNER_LIMITS_INPUT_DEPTH)",
            )
    size = len(json.dumps([inputs, labels or {}], default=str).encode())
    if size > limits.input_bytes:
        raise InputsTooLarge(what, size, limits.input_bytes)


# Every reason `create` refuses a request before anything is written; a trigger records
# it (TriggerFailed, a dead letter) instead of retrying what will be refused again.
REFUSED: tuple[type[Exception], ...] = (InvalidInputs, InputsTooLarge, UnknownFlow)


@dataclass(frozen=True)
class Requested:
    execution_id: str
    command_id: str
    flow: FlowRef


def new_id() -> str:
    return base62(uuid.uuid4().bytes).rjust(22, "0")


def _depth(value: Any, stop: int) -> int:
    """How deep lists and dicts nest in `value` (iterative; stops looking past `stop`)."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        deepest = max(deepest, level)
        if level > stop:
            break
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        pending.extend((child, level + 1) for child in children)
    return deepest


class ExecutionWriter:
    def __init__(
        self,
        producer: LogProducer,
        catalog: FlowSources,
        topics: Topics,
        tenant: str,
        limits: Limits | None = None,
    ) -> None:
        self.limits = limits or Limits()
        self.producer = producer
        self.catalog = catalog
        self.topics = topics
        self.tenant = tenant

    def create(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any],
        *,
        actor: str,
        labels: Mapping[str, str] | None = None,
        revision: int | None = None,
        trigger: dict[str, Any] | None = None,
        execution_id: str | None = None,
    ) -> Requested:
        command = self.prepare_create(
            namespace,
            flow_id,
            inputs,
            actor=actor,
            labels=labels,
            revision=revision,
            trigger=trigger,
            execution_id=execution_id,
        )
        self.send(command)
        return Requested(command.execution_id, command.command_id, command.flow)

    async def submit(self, sends: AsyncSends, command: CreateExecution) -> Execution:
        """Write a prepared creation from an event loop: once the broker has it, the
        execution as its creation makes it (nothing waits for the executor or the views).
        Concurrent submissions share the producer's batches."""
        value = command.model_dump_json().encode()
        await sends.send(self.topics.commands, command.execution_id, value)
        ref = command.flow
        flow = self.catalog.get(self.tenant, ref.namespace, ref.flow_id, ref.revision)
        assert flow is not None  # prepare_create found this very revision
        return as_created(flow, command)

    def prepare_create(
        self,
        namespace: str,
        flow_id: str,
        inputs: Mapping[str, Any],
        *,
        actor: str,
        labels: Mapping[str, str] | None = None,
        revision: int | None = None,
        trigger: dict[str, Any] | None = None,
        execution_id: str | None = None,
    ) -> CreateExecution:
        """The checked CreateExecution, not yet sent: a caller that creates many at once
        (a trigger listener) sends them together and waits once."""
        flow = self.catalog.get(self.tenant, namespace, flow_id, revision)
        if flow is None:
            raise UnknownFlow(f"flow {namespace}.{flow_id} does not exist")
        if flow.flow.disabled:
            raise InvalidInputs(f"{namespace}.{flow_id}", ["the flow is disabled"])
        check_input_size(f"flow {namespace}.{flow_id}", inputs, self.limits, labels)
        values, errors = coerce_inputs(flow.flow.inputs, inputs)
        if errors:
            # Refused before anything is written: nothing to clean up, nothing half-created.
            raise InvalidInputs(f"{namespace}.{flow_id}", errors)
        check_input_size(f"flow {namespace}.{flow_id}", values, self.limits, labels)
        assert flow.flow.revision is not None
        return CreateExecution(
            command_id=new_id(),
            execution_id=execution_id or new_id(),
            time=dt.datetime.now(dt.UTC),
            actor=actor,
            flow=FlowRef(
                tenant=self.tenant,
                namespace=namespace,
                flow_id=flow_id,
                revision=flow.flow.revision,
            ),
            inputs=values,
            labels=dict(labels or {}),
            trigger=trigger,
        )

    def kill(self, execution_id: str, actor: str) -> str:
        return self._control(KillExecution, execution_id, actor)

    def pause(self, execution_id: str, actor: str) -> str:
        return self._control(PauseExecution, execution_id, actor)

    def resume(self, execution_id: str, actor: str, inputs: Mapping[str, Any] | None = None) -> str:
        check_input_size(f"execution {execution_id}", inputs or {}, self.limits)
        return self._control(ResumeExecution, execution_id, actor, inputs=dict(inputs or {}))

    # `known` below: the execution as the caller's view holds it. A finished one is carried
    # in the command, for an executor that has forgotten it (streams/core/forget.py).

    def restart(self, execution_id: str, actor: str, known: Execution | None = None) -> str:
        return self._control(RestartExecution, execution_id, actor, known_state=_finished(known))

    def replay(
        self,
        execution_id: str,
        actor: str,
        task_run_id: str | None,
        revision: int | None,
        known: Execution | None = None,
    ) -> tuple[str, str]:
        """Returns (new execution id, command id); the original creates the new one."""
        new_execution_id = new_id()
        command_id = self._control(
            ReplayExecution,
            execution_id,
            actor,
            new_execution_id=new_execution_id,
            task_run_id=task_run_id,
            revision=revision,
            known_state=_finished(known),
        )
        return new_execution_id, command_id

    def change_state(
        self,
        execution_id: str,
        actor: str,
        task_run_id: str,
        state: State,
        known: Execution | None = None,
    ) -> str:
        return self._control(
            ChangeTaskRunState,
            execution_id,
            actor,
            task_run_id=task_run_id,
            state=state,
            known_state=_finished(known),
        )

    def _control(self, kind: type[Command], execution_id: str, actor: str, **fields: Any) -> str:
        """Send a command to an existing execution, stamped with a new id and the time."""
        return self.send(
            kind(
                command_id=new_id(),
                execution_id=execution_id,
                time=dt.datetime.now(dt.UTC),
                actor=actor,
                **fields,
            )
        )

    def send(self, command: Command) -> str:
        self.producer.send_and_wait(
            self.topics.commands, command.execution_id, command.model_dump_json().encode()
        )
        return command.command_id


def _finished(known: Execution | None) -> Execution | None:
    return known if known is not None and known.state.is_terminal else None
