"""The core flowable tasks: their properties, and how each steers its children (the
flowable protocol of streams/plugins/flowable.py; the walk in streams/core carries it out)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.inputs import parse_duration
from streams.core.expressions.values import to_text
from streams.core.java_text import java_text
from streams.plugins.base import FlowableTask
from streams.plugins.core.subflow import Subflow as Subflow
from streams.plugins.core.subflow import SubflowDecision as SubflowDecision
from streams.plugins.flowable import (
    AfterStart,
    AsDag,
    ChildPlan,
    DagNode,
    Decision,
    ExecutionView,
    InParallel,
    InScopes,
    NoDecision,
    PauseRun,
    ValueScopes,
    expect,
    in_sequence,
)

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

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        return in_sequence(self.tasks, run.value)


class AllowFailure(Sequential):
    """Runs its tasks in sequence; a failure among them ends this task in WARNING."""

    TYPE: ClassVar[str] = "flow.AllowFailure"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("AllowFailure")
    ABSORBS_FAILURE: ClassVar[bool] = True


class Parallel(FlowableTask):
    TYPE: ClassVar[str] = "flow.Parallel"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Parallel")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS
    tasks: list[TaskSpec] = Field(min_length=1)
    # 0 means no limit, as in Kestra.
    concurrent: int = Field(default=0, ge=0)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        view.check_fan_out(len(self.tasks), "parallel tasks")
        return NoDecision()

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        return InParallel(self.tasks, run.value, self.concurrent)


class IfDecision(Decision):
    condition: bool = False


class If(FlowableTask):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    TYPE: ClassVar[str] = "flow.If"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("If")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"condition"}
    condition: str | bool
    then: list[TaskSpec] = Field(min_length=1)
    else_: list[TaskSpec] = Field(default_factory=list, alias="else")
    DECISION: ClassVar[type[Decision]] = IfDecision

    def main_specs(self) -> list[TaskSpec]:
        return [*self.then, *self.else_]

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        condition = view.decided_here(self.condition, "condition")
        return IfDecision(condition=view.render_bool(condition, view.context(run, self.type)))

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        branch = self.then if expect(decision, IfDecision).condition else self.else_
        return in_sequence(branch, run.value)


class SwitchDecision(Decision):
    value: str = ""


class Switch(FlowableTask):
    TYPE: ClassVar[str] = "flow.Switch"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("Switch")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"value"}
    DECISION: ClassVar[type[Decision]] = SwitchDecision
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

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        context = view.context(run, self.type)
        value = view.render(view.decided_here(self.value, "value"), context)
        # Compared as Kestra prints it: `true`, not Python's `True`.
        text = to_text(value)
        if text not in self.cases and not self.defaults:
            # Kestra's "No task found": nothing to run is a failure, not a success.
            raise ValueError(f"no case matches {text!r} and there are no defaults")
        return SwitchDecision(value=text)

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        case = expect(decision, SwitchDecision).value
        return in_sequence(self.cases.get(case, self.defaults), run.value)

    def final_outputs(self, run: TaskRun, decision: Decision) -> dict[str, Any]:
        value = expect(decision, SwitchDecision).value
        return {"value": value, "defaults": value not in self.cases}


class EachDecision(Decision):
    """The loop's values, as text (a value that is not text is its JSON)."""

    values: list[str] = Field(default_factory=list)


class _Each(FlowableTask):
    """What the loops share: values decided once, then `tasks` in sequence per value."""

    DECISION: ClassVar[type[Decision]] = EachDecision
    tasks: list[TaskSpec] = Field(min_length=1)

    @property
    def raw_values(self) -> str | list[Any]:
        raise NotImplementedError

    @property
    def limit(self) -> int:
        raise NotImplementedError

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        raw = view.decided_here(self.raw_values, "values")
        values = view.render(raw, view.context(run, self.type))
        if isinstance(values, str):
            try:
                values = json.loads(values)
            except json.JSONDecodeError:
                raise ValueError(f"values must be a list or a JSON array, got {values!r}") from None
        if not isinstance(values, list):
            raise ValueError(f"values must be a list, got {type(values).__name__}")
        nulls = sum(1 for v in values if v is None)
        if nulls:
            # Kestra's words, so a search for its message finds ours.
            raise ValueError(
                f"Found '{nulls}' null values on Each, with values={java_text(values)}"
            )
        view.check_fan_out(len(values), "values")
        return EachDecision(values=[v if isinstance(v, str) else json.dumps(v) for v in values])

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        values = expect(decision, EachDecision).values
        return InScopes(self.tasks, ValueScopes(values), self.limit)


class ForEach(_Each):
    """Runs `tasks` once per value; `concurrencyLimit` 0 means all at once."""

    TYPE: ClassVar[str] = "flow.ForEach"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("ForEach")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"values"}
    values: str | list[Any]
    concurrencyLimit: int = Field(default=1, ge=0)

    @property
    def raw_values(self) -> str | list[Any]:
        return self.values

    @property
    def limit(self) -> int:
        return self.concurrencyLimit


class EachSequential(_Each):
    TYPE: ClassVar[str] = "flow.EachSequential"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("EachSequential")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"value"}
    value: str | list[Any]

    @property
    def raw_values(self) -> str | list[Any]:
        return self.value

    @property
    def limit(self) -> int:
        return 1


class EachParallel(_Each):
    TYPE: ClassVar[str] = "flow.EachParallel"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = _names("EachParallel")
    UNRENDERED: ClassVar[frozenset[str]] = _CHILD_LISTS | {"value"}
    value: str | list[Any]
    concurrent: int = Field(default=0, ge=0)

    @property
    def raw_values(self) -> str | list[Any]:
        return self.value

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

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        view.check_fan_out(len(self.tasks), "parallel tasks")
        return NoDecision()

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        nodes = [DagNode(t.task, list(t.dependsOn)) for t in self.tasks]
        return AsDag(nodes, run.value, self.concurrent)


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

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        if self.duration or self.timeout:
            try:
                parse_duration(self.duration or str(self.timeout))
            except ValueError as exc:
                raise ValueError(f"pauseDuration/delay/timeout: {exc}") from None
        return NoDecision()

    def after_start(self, run: TaskRun, decision: Decision, view: ExecutionView) -> AfterStart:
        resume_at = None
        if self.duration or self.timeout:
            resume_at = view.now + parse_duration(self.duration or str(self.timeout))
        return PauseRun(resume_at, timeout_fails=bool(self.timeout) and not self.duration)

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        # Stepped once resumed: its `tasks` run then, in sequence.
        return in_sequence(self.tasks, run.value)

    def final_outputs(self, run: TaskRun, decision: Decision) -> dict[str, Any]:
        return dict(run.outputs)  # what it was resumed with (`onResume`)
