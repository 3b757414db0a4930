"""io.kestra.plugin.core.flow.WaitFor: Kestra's loop, step by step.

Kestra (ExecutorService's "WaitFor case", WaitFor.resolveState, ExecutionService.
retryWaitFor) runs the WaitFor's `tasks` in sequence as one iteration; once every child
of the iteration succeeded it renders `condition`:
- true: the WaitFor ends SUCCESS, `iterationCount` = the iterations run;
- false, and a maximum is reached (`maxIterations` iterations done, or `maxDuration`
  past since the WaitFor was created): it ends FAILED with `failOnMaxReached`, else
  SUCCESS, `iterationCount` = iterations + 1 (Kestra counts the iteration it would start);
- false otherwise: the WaitFor run and the execution are PAUSED until `interval` from
  now, then the next iteration starts (Kestra deletes the previous children; here they
  stay, each iteration's runs carrying their `iteration` number and ids of their own,
  and the newest run of a task is the one `outputs.<task>` shows, as in Kestra).
A child that fails or warns ends the loop as it would end a Sequential.

Everything is pure: the time is the decision's (`view.now`), the wait is the existing
timer of a paused run (TaskRunPaused.resume_at -> WakeUp -> TaskRunResumed), and
`iterationCount` lives in the run's outputs (set by the start decision, then by each
pause), so children render `outputs.<waitfor>.iterationCount` as on Kestra.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from schemas.execution import TaskRun
from schemas.flow import TaskSpec
from schemas.inputs import parse_duration
from schemas.states import State
from streams.plugins.base import FlowableTask
from streams.plugins.flowable import (
    AfterChildren,
    ChildPlan,
    Decision,
    ExecutionView,
    InScopes,
    PauseUntil,
    Resolved,
    Scope,
)

_KESTRA = "io.kestra.plugin.core.flow"
_KESTRA_OLD = "io.kestra.core.tasks.flows"
ITERATION_COUNT = "iterationCount"


class CheckFrequency(BaseModel):
    """How often the condition is checked, and when to give up (Kestra's defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    maxIterations: int | None = Field(default=100, ge=1)
    maxDuration: str | None = "PT1H"
    interval: str = "PT1S"


class WaitForDecision(Decision):
    """The outputs the run shows from its start: the iteration it starts in."""

    outputs: dict[str, int] = Field(default_factory=dict)


class WaitFor(FlowableTask):
    """Runs `tasks` again and again until `condition` (rendered after each iteration)
    is true, or a maximum (iterations, duration) is reached."""

    TYPE: ClassVar[str] = "flow.WaitFor"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = (f"{_KESTRA}.WaitFor", f"{_KESTRA_OLD}.WaitFor")
    UNRENDERED: ClassVar[frozenset[str]] = frozenset(
        {"tasks", "errors", "finally_", "condition", "checkFrequency"}
    )
    DECISION: ClassVar[type[Decision]] = WaitForDecision
    condition: str | bool
    tasks: list[TaskSpec] = Field(min_length=1)
    failOnMaxReached: bool = False
    checkFrequency: CheckFrequency = Field(default_factory=CheckFrequency)

    def main_specs(self) -> list[TaskSpec]:
        return list(self.tasks)

    def decide(self, run: TaskRun, view: ExecutionView) -> Decision:
        """Durations are checked once; the first iteration is 1, or, for a restarted
        WaitFor, the one it stopped in (whose failed runs then run again)."""
        frequency = self.checkFrequency
        for name, text in (
            ("interval", frequency.interval),
            ("maxDuration", frequency.maxDuration),
        ):
            if text is not None:
                try:
                    parse_duration(text)
                except ValueError as exc:
                    raise ValueError(f"checkFrequency.{name}: {exc}") from None
        return WaitForDecision(outputs={ITERATION_COUNT: _iteration(run)})

    def next_children(
        self, run: TaskRun, decision: Decision, view: ExecutionView
    ) -> ChildPlan | None:
        """The current iteration: `tasks` in sequence, in runs of its own."""
        return InScopes(self.tasks, [Scope(run.value, _iteration(run), own_runs=True)])

    def after_children(self, run: TaskRun, state: State, view: ExecutionView) -> AfterChildren:
        """Every child of the iteration succeeded: end the loop, or wait for the next one."""
        iteration = _iteration(run)
        ending = {ITERATION_COUNT: iteration}
        if state != State.SUCCESS or view.killing:
            return Resolved(state, ending)
        frequency = self.checkFrequency
        if _out_of_time(run, frequency.maxDuration, view.now):
            return Resolved(self._at_max(), ending)
        condition = view.decided_here(self.condition, "condition")
        if view.render_bool(condition, view.context(run, self.type)):
            return Resolved(State.SUCCESS, ending)
        following = iteration + 1
        if (frequency.maxIterations is not None and following > frequency.maxIterations) or (
            _out_of_time(run, frequency.maxDuration, view.now)
        ):
            return Resolved(self._at_max(), {ITERATION_COUNT: following})
        resume_at = view.now + parse_duration(frequency.interval)
        return PauseUntil(resume_at, {ITERATION_COUNT: following})

    def final_outputs(self, run: TaskRun, decision: Decision) -> dict[str, Any]:
        return {ITERATION_COUNT: _iteration(run)}

    def _at_max(self) -> State:
        return State.FAILED if self.failOnMaxReached else State.SUCCESS


def _iteration(run: TaskRun) -> int:
    return int(run.outputs.get(ITERATION_COUNT, 1))


def _out_of_time(run: TaskRun, max_duration: str | None, now: dt.datetime) -> bool:
    created = run.history[0].date if run.history else None
    if max_duration is None or created is None:
        return False
    return created + parse_duration(max_duration) < now
