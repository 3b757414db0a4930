"""The flowable protocol: how a flowable task steers its children (Kestra's FlowableTask).

A flowable answers four questions, each a pure function of its properties and of the
execution as an `ExecutionView` shows it (read-only; the walk passes one in):
- `decide`: what it settles once, when it starts (a branch, the loop's values, the
  subflow to start), as a typed `Decision` recorded on its TaskRunStarted event;
- `after_start`: what happens right after it started (its children run, it pauses,
  it ends at once, or it waits for something other than children);
- `next_children` (Kestra's resolveNexts): how its children run now, as a `ChildPlan`
  the walk carries out; None while something else (a worker, a subflow) has its turn;
- `after_children` and `resolve_state` (Kestra's resolveState): what the children's
  end means for the run, and `final_outputs`, what the run ends with.

The methods live on `FlowableTask` (streams/plugins/base.py), with defaults for all but
`next_children`; a flowable class without it is refused when a flow using it is
validated. A third-party flowable subclasses FlowableTask like the core ones
(streams/plugins/core/flowables.py) and needs nothing private: the view is all it sees
of the execution.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, overload

from pydantic import BaseModel, ConfigDict

from schemas.execution import Execution, TaskRun
from schemas.flow import Flow, TaskSpec
from schemas.states import State


class ExecutionView(Protocol):
    """The execution as a flowable sees it while the walk steps it."""

    @property
    def execution(self) -> Execution:
        """The execution as it is now (a frozen model)."""
        ...

    @property
    def now(self) -> dt.datetime:
        """The decision's time."""
        ...

    @property
    def killing(self) -> bool: ...

    def find(self, parent_id: str | None, task_id: str, value: str | None) -> TaskRun | None:
        """The newest run of `task_id` under `parent_id` for loop value `value`."""
        ...

    def children(self, run: TaskRun) -> list[TaskRun]:
        """The runs whose parent is `run`, in creation order."""
        ...

    def context(self, run: TaskRun, task_type: str) -> dict[str, Any]:
        """The variables `run` renders with."""
        ...

    def render(self, value: Any, context: dict[str, Any]) -> Any:
        """`value` rendered with `context`, within the decision's render budget."""
        ...

    def render_bool(self, value: Any, context: dict[str, Any]) -> bool: ...

    def decided_here(self, value: Any, what: str) -> Any:
        """`value`, refused (ExpressionError) when it needs data only a worker holds."""
        ...

    def flow(self, namespace: str, flow_id: str, revision: int | None) -> Flow | None:
        """Another flow of the execution's tenant (None: there is none)."""
        ...

    def check_fan_out(self, count: int, what: str) -> None:
        """Raises LimitExceeded when `count` children are more than one decision may start."""
        ...

    def loop_values(self, run: TaskRun) -> list[str]:
        """The loop values around `run`, outermost first."""
        ...


# --- what a flowable decides when it starts ----------------------------------------------


class Decision(BaseModel):
    """What a flowable settled when it started. Recorded as `record()` on its
    TaskRunStarted event and read back with `model_validate(run.decision)`."""

    # Extra keys are what others added to the record later (ForEachItem's `ended`).
    model_config = ConfigDict(frozen=True, extra="ignore")

    def record(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @property
    def child_execution_id(self) -> str | None:
        """The execution it starts, for a flowable that starts one."""
        return None


class NoDecision(Decision):
    """Nothing to settle (a Sequential, a Parallel...)."""


D = TypeVar("D", bound=Decision)


def expect(decision: Decision, kind: type[D]) -> D:
    """`decision` as the flowable's own kind (the walk reads it back as `DECISION`)."""
    if not isinstance(decision, kind):
        raise TypeError(f"expected a {kind.__name__}, got a {type(decision).__name__}")
    return decision


# --- what happens right after it started ----------------------------------------------


@dataclass(frozen=True)
class StepChildren:
    """Its children run now (the usual case)."""


@dataclass(frozen=True)
class PauseRun:
    """The run pauses (the execution with it) until resumed, or until `resume_at`."""

    resume_at: dt.datetime | None = None
    timeout_fails: bool = False


@dataclass(frozen=True)
class EndRun:
    """The run ends at once."""

    state: State
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AwaitInput:
    """The run ends through another input (a subflow's end), not through children."""


AfterStart = StepChildren | PauseRun | EndRun | AwaitInput


# --- how its children run -----------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """One pass over a list of children: their loop value and iteration number.
    `own_runs`: each iteration has runs of its own (WaitFor), found by iteration,
    instead of one run per task and value."""

    value: str | None
    iteration: int | None = None
    own_runs: bool = False


@dataclass(frozen=True)
class InScopes:
    """`specs` in sequence within each scope; at most `limit` scopes at once (0: all).
    One scope is a Sequential; one per value is a ForEach."""

    specs: list[TaskSpec]
    scopes: Sequence[Scope]
    limit: int = 0


class ValueScopes(Sequence[Scope]):
    """One scope per value, each made when the walk asks for it: a loop over thousands
    of values is stepped from its open part on (streams/core/children.py)."""

    def __init__(self, values: Sequence[str]) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> Scope: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Scope]: ...

    def __getitem__(self, index: int | slice) -> Scope | Sequence[Scope]:
        if isinstance(index, slice):
            return [Scope(self._values[i], i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        return Scope(self._values[index], index)


@dataclass(frozen=True)
class InParallel:
    """`specs` side by side, at most `limit` running at once (0: all)."""

    specs: list[TaskSpec]
    value: str | None
    limit: int = 0


@dataclass(frozen=True)
class DagNode:
    spec: TaskSpec
    depends_on: list[str]


@dataclass(frozen=True)
class AsDag:
    """Each node once all it depends on succeeded, at most `limit` running (0: all)."""

    nodes: list[DagNode]
    value: str | None
    limit: int = 0


ChildPlan = InScopes | InParallel | AsDag


def in_sequence(specs: list[TaskSpec], value: str | None, iteration: int | None = None) -> InScopes:
    """`specs` one after another, for the loop value `value`."""
    return InScopes(specs, [Scope(value, iteration)])


# --- what the children's end means --------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The children ended: the run ends `state` (after its `errors` and `finally`), with
    `outputs` when given (else the flowable's `final_outputs`)."""

    state: State
    outputs: dict[str, Any] | None = None


@dataclass(frozen=True)
class PauseUntil:
    """The children ended but the run goes on later: it pauses until `resume_at`, with
    `outputs` shown meanwhile."""

    resume_at: dt.datetime
    outputs: dict[str, Any] = field(default_factory=dict)


AfterChildren = Resolved | PauseUntil
