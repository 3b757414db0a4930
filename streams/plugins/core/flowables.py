"""Models of the core flowable tasks; the executor's pure core plans what they run."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.flow import TaskSpec
from streams.plugins.base import FlowableTask

_KESTRA = "io.kestra.plugin.core.flow"
_KESTRA_OLD = "io.kestra.core.tasks.flows"


def _names(name: str) -> tuple[str, ...]:
    return (f"{_KESTRA}.{name}", f"{_KESTRA_OLD}.{name}")


_CHILD_LISTS = frozenset({"tasks", "then", "else_", "cases", "defaults", "errors", "finally_"})


class Sequential(FlowableTask):
    TYPE: ClassVar[str] = "flow.Sequential"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Sequential")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS
    tasks: list[TaskSpec] = Field(min_length=1)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)


class AllowFailure(Sequential):
    """Runs its tasks in sequence; a failure among them ends this task in WARNING."""

    TYPE: ClassVar[str] = "flow.AllowFailure"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("AllowFailure")


class Parallel(FlowableTask):
    TYPE: ClassVar[str] = "flow.Parallel"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Parallel")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS
    tasks: list[TaskSpec] = Field(min_length=1)
    # 0 means no limit, as in Kestra.
    concurrent: int = Field(default=0, ge=0)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)


class If(FlowableTask):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    TYPE: ClassVar[str] = "flow.If"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("If")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"condition"}
    condition: str | bool
    then: list[TaskSpec] = Field(min_length=1)
    else_: list[TaskSpec] = Field(default_factory=list, alias="else")

    def main_specs(self) -> list[TaskSpec]:
        return [*self.then, *self.else_]


class Switch(FlowableTask):
    TYPE: ClassVar[str] = "flow.Switch"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Switch")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"value"}
    value: str
    cases: dict[str, list[TaskSpec]] = Field(default_factory=dict)
    defaults: list[TaskSpec] = Field(default_factory=list)

    @field_validator("cases", mode="before")
    @classmethod
    def _case_keys_as_text(cls, cases: Any) -> Any:
        # YAML reads `1:` as a number; the rendered value is compared as text.
        return {str(k): v for k, v in cases.items()} if isinstance(cases, dict) else cases

    @field_validator("defaults", mode="before")
    @classmethod
    def _no_defaults(cls, defaults: Any) -> Any:
        return [] if defaults is None else defaults  # `defaults: null`, as Kestra allows

    def main_specs(self) -> list[TaskSpec]:
        specs = [spec for case in self.cases.values() for spec in case]
        return [*specs, *self.defaults]


class ForEach(FlowableTask):
    """Runs `tasks` once per value; `concurrencyLimit` 0 means all at once."""

    TYPE: ClassVar[str] = "flow.ForEach"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("ForEach")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"values"}
    values: str | list[Any]
    tasks: list[TaskSpec] = Field(min_length=1)
    concurrencyLimit: int = Field(default=1, ge=0)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    @property
    def limit(self) -> int:
        return self.concurrencyLimit


class EachSequential(FlowableTask):
    TYPE: ClassVar[str] = "flow.EachSequential"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("EachSequential")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"value"}
    value: str | list[Any]
    tasks: list[TaskSpec] = Field(min_length=1)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    @property
    def limit(self) -> int:
        return 1


class EachParallel(FlowableTask):
    TYPE: ClassVar[str] = "flow.EachParallel"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("EachParallel")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"value"}
    value: str | list[Any]
    tasks: list[TaskSpec] = Field(min_length=1)
    concurrent: int = Field(default=0, ge=0)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    @property
    def limit(self) -> int:
        return self.concurrent


class DagTask(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    task: TaskSpec
    dependsOn: list[str] = Field(default_factory=list)


class Dag(FlowableTask):
    TYPE: ClassVar[str] = "flow.Dag"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Dag")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS
    tasks: list[DagTask] = Field(min_length=1)
    concurrent: int = Field(default=0, ge=0)

    def main_specs(self) -> list[TaskSpec]:
        return [t.task for t in self.tasks]


class Subflow(FlowableTask):
    """Starts an execution of another flow; with `wait`, ends as it ends."""

    TYPE: ClassVar[str] = "flow.Subflow"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (*_names("Subflow"), f"{_KESTRA_OLD}.Flow")
    namespace: str
    flowId: str
    revision: int | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    wait: bool = True
    transmitFailed: bool = True
    inheritLabels: bool = False
    # Kestra's (deprecated) values extracted from the child when it ends, rendered against
    # the child's task outputs: `outputs.<this task>.outputs.<name>`.
    outputs: dict[str, Any] = Field(default_factory=dict)
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"outputs"}

    def main_specs(self) -> list[TaskSpec]:
        return []


class Pause(FlowableTask):
    """Pauses the execution for `pauseDuration` (or `delay`), or until resumed."""

    TYPE: ClassVar[str] = "flow.Pause"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Pause")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS
    pauseDuration: str | None = None
    delay: str | None = None
    onResume: list[dict[str, Any]] = Field(default_factory=list)
    tasks: list[TaskSpec] = Field(default_factory=list)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    @property
    def duration(self) -> str | None:
        return self.pauseDuration or self.delay
