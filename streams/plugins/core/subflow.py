"""io.kestra.plugin.core.flow.Subflow: starts an execution of another flow and, with
`wait`, ends as it ends (the SubflowEnded input ends it, not children)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.inputs import coerce_inputs
from schemas.states import State
from streams.core.ids import derive_id
from streams.core.labels import SYSTEM_LABEL_PREFIX
from streams.plugins.base import FlowableTask
from streams.plugins.flowable import (
    AfterStart,
    AwaitInput,
    ChildPlan,
    Decision,
    EndRun,
    ExecutionView,
)

_KESTRA = "io.kestra.plugin.core.flow"
_KESTRA_OLD = "io.kestra.core.tasks.flows"
_CHILD_LISTS = frozenset({"tasks", "then", "else_", "cases", "defaults", "errors", "finally_"})


def _names(name: str) -> tuple[str, ...]:
    return (f"{_KESTRA}.{name}", f"{_KESTRA_OLD}.{name}")


class SubflowDecision(Decision):
    """The execution a Subflow starts, and how it waits for it."""

    executionId: str
    namespace: str
    flowId: str
    revision: int | None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    wait: bool = True
    transmitFailed: bool = True
    extract: bool = False

    @property
    def child_execution_id(self) -> str | None:
        return self.executionId


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
    DECISION: ClassVar[type[Decision]] = SubflowDecision

    def main_specs(self) -> list[TaskSpec]:
        return []

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        s = view.execution
        target = view.flow(self.namespace, self.flowId, self.revision)
        name = f"subflow {self.namespace}.{self.flowId}"
        if target is None:
            revision = f" revision {self.revision}" if self.revision else ""
            raise ValueError(f"{name}{revision} does not exist")
        inputs, errors = coerce_inputs(target.inputs, self.inputs)
        if errors:
            raise ValueError(f"{name}: " + "; ".join(errors))
        return SubflowDecision(
            # A restarted Subflow task starts a new child, not the one that failed.
            executionId=derive_id(s.id, run.id, "subflow")
            if not run.attempts
            else derive_id(s.id, run.id, "subflow", len(run.attempts) + 1),
            namespace=self.namespace,
            flowId=self.flowId,
            revision=target.revision,
            inputs=inputs,
            labels=inherited_labels(s.labels, self.inheritLabels, self.labels),
            wait=self.wait,
            transmitFailed=self.transmitFailed,
            extract=bool(self.outputs),
        )

    def after_start(self, run: TaskRun, decision: Decision, view: ExecutionView) -> AfterStart:
        if self.wait:
            return AwaitInput()  # it ends when its child does (SubflowEnded)
        return EndRun(State.SUCCESS, {"executionId": decision.child_execution_id})

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        return None


def inherited_labels(labels: dict[str, str], inherit: bool, own: dict[str, str]) -> dict[str, str]:
    """A child execution's labels: system labels (the correlation id) always follow the
    chain, as in Kestra; the others with `inheritLabels`; then the task's own."""
    system = {k: v for k, v in labels.items() if k.startswith(SYSTEM_LABEL_PREFIX)}
    return {**system, **(labels if inherit else {}), **own}
