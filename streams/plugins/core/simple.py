"""Core tasks that do not nest others: Log, Return, OutputValues, Fail, Sleep."""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from pydantic import Field

from schemas.inputs import parse_duration
from schemas.states import State
from streams.plugins.base import InlineLog, InlineTask, LogLevel, Outcome, WorkerContext, WorkerTask

_KESTRA = "io.kestra.plugin.core"
_KESTRA_OLD = "io.kestra.core.tasks"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


class Log(InlineTask):
    """Writes a message (or several) to the task run's logs."""

    TYPE: ClassVar[str] = "log.Log"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.log.Log", f"{_KESTRA_OLD}.log.Log")
    message: str | list[Any]
    level: LogLevel = "INFO"

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        messages = self.message if isinstance(self.message, list) else [self.message]
        for message in messages:
            logs.append(InlineLog(self.level, _as_text(message)))
        return Outcome(State.SUCCESS)


class Return(InlineTask):
    """Returns a rendered value as the output `value`."""

    TYPE: ClassVar[str] = "debug.Return"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.debug.Return",
        f"{_KESTRA_OLD}.debugs.Return",
    )
    format: Any = None

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        # A format that renders to null returns "", as Kestra's text rendering does.
        return Outcome(State.SUCCESS, {"value": "" if self.format is None else self.format})


class OutputValues(InlineTask):
    """Publishes a map of rendered values as the output `values`."""

    TYPE: ClassVar[str] = "output.OutputValues"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.output.OutputValues",)
    TEXT_RENDERED: ClassVar[frozenset[str]] = frozenset({"values"})
    values: dict[str, Any] = Field(default_factory=dict)

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        return Outcome(State.SUCCESS, {"values": self.values})


class Fail(InlineTask):
    """Fails the task run, when `condition` (if any) is true."""

    TYPE: ClassVar[str] = "execution.Fail"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (
        f"{_KESTRA}.execution.Fail",
        f"{_KESTRA_OLD}.executions.Fail",
    )
    # Rendered by the executor as a condition, not as a plain property.
    UNRENDERED: ClassVar[frozenset[str]] = frozenset({"condition"})
    condition: str | bool | None = None
    errorMessage: str = "Task failure"

    def run_inline(self, logs: list[InlineLog]) -> Outcome:
        logs.append(InlineLog("ERROR", self.errorMessage))
        return Outcome(State.FAILED, error=self.errorMessage)


class Sleep(WorkerTask):
    """Waits for an ISO-8601 duration, on a worker."""

    TYPE: ClassVar[str] = "flow.Sleep"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.flow.Sleep",)
    duration: str

    async def run(self, ctx: WorkerContext) -> Outcome:
        seconds = parse_duration(self.duration).total_seconds()
        await ctx.log("INFO", f"Waiting for {self.duration}")  # Kestra's line
        await asyncio.sleep(seconds)
        return Outcome(State.SUCCESS)
