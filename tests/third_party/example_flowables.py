"""A third-party flowable package, as one outside Lanner would write it: it declares its
tasks in the `lanner.plugins` entry-point group and uses only the public flowable
protocol (streams/plugins/flowable.py), nothing private of the walk.

`com.example.Twice` runs its tasks twice, one round after the other, each round in task
runs of its own; it ends with how many rounds ran (`rounds`).
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from streams.plugins.base import FlowableTask, Task
from streams.plugins.flowable import (
    ChildPlan,
    Decision,
    ExecutionView,
    InScopes,
    Scope,
    expect,
)


class RoundsDecision(Decision):
    """The rounds to run, decided once when the task starts."""

    rounds: list[int] = Field(default_factory=list)


class Twice(FlowableTask):
    TYPE: ClassVar[str] = "com.example.Twice"
    DECISION: ClassVar[type[Decision]] = RoundsDecision
    tasks: list[TaskSpec] = Field(min_length=1)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        return RoundsDecision(rounds=[1, 2])

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        rounds = expect(decision, RoundsDecision).rounds
        # One round at a time (limit 1), each with runs of its own.
        scopes = [Scope(run.value, number, own_runs=True) for number in rounds]
        return InScopes(list(self.tasks), scopes, limit=1)

    def final_outputs(self, run: TaskRun, decision: Decision) -> dict[str, Any]:
        return {"rounds": len(expect(decision, RoundsDecision).rounds)}


class OnlyMainSpecs(FlowableTask):
    """A flowable written before the protocol: it lists its tasks but never says how
    they run, so a flow using it is refused when it is validated."""

    TYPE: ClassVar[str] = "com.example.OnlyMainSpecs"
    tasks: list[TaskSpec] = Field(min_length=1)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)


PLUGINS: list[type[Task]] = [Twice, OnlyMainSpecs]
# The entry point a distribution of this package declares.
ENTRY_POINTS = {"example-flowables": "tests.third_party.example_flowables:PLUGINS"}
