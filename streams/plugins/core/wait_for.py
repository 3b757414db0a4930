"""The WaitFor flowable's model; the executor's pure core (streams/core/wait_for.py)
decides its iterations."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.flow import TaskSpec
from streams.plugins.base import FlowableTask

_KESTRA = "io.kestra.plugin.core.flow"
_KESTRA_OLD = "io.kestra.core.tasks.flows"


class CheckFrequency(BaseModel):
    """How often the condition is checked, and when to give up (Kestra's defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    maxIterations: int | None = Field(default=100, ge=1)
    maxDuration: str | None = "PT1H"
    interval: str = "PT1S"


class WaitFor(FlowableTask):
    """Runs `tasks` again and again until `condition` (rendered after each iteration)
    is true, or a maximum (iterations, duration) is reached."""

    TYPE: ClassVar[str] = "flow.WaitFor"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.WaitFor", f"{_KESTRA_OLD}.WaitFor")
    UNRENDERED: ClassVar[frozenset[str]] = frozenset(
        {"tasks", "errors", "finally_", "condition", "checkFrequency"}
    )
    condition: str | bool
    tasks: list[TaskSpec] = Field(min_length=1)
    failOnMaxReached: bool = False
    checkFrequency: CheckFrequency = Field(default_factory=CheckFrequency)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)
