"""Flow triggers: `io.kestra.plugin.core.trigger.Flow` starts a flow when other flows'
executions change state (by default: when they end).

`conditions` filter each upstream execution on its own; `preconditions` join several
upstream executions inside a time window (all of `flows` and `where` met once, then fire).
Condition models are kept apart (CONDITION_MODELS) so that validation can name an
unknown condition type and suggest a close one, as it does for trigger types.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from schemas.states import TERMINAL_STATES, State

FLOW_TYPES = (
    "trigger.Flow",
    "io.kestra.plugin.core.trigger.Flow",
    "io.kestra.core.models.triggers.types.Flow",
)

_FROZEN = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def _names(short: str, *aliases: str) -> tuple[str, ...]:
    return (f"condition.{short}", f"io.kestra.plugin.core.condition.{short}", *aliases)


class ExecutionFlowCondition(BaseModel):
    model_config = _FROZEN

    type: str
    namespace: str
    flowId: str


class ExecutionNamespaceCondition(BaseModel):
    model_config = _FROZEN

    type: str
    namespace: str
    comparison: Literal["EQUALS", "PREFIX", "SUFFIX"] | None = None
    prefix: bool = False


class ExecutionStatusCondition(BaseModel):
    model_config = _FROZEN

    type: str
    in_: list[State] | None = Field(default=None, alias="in")
    notIn: list[State] | None = None


class LabelPair(BaseModel):
    model_config = _FROZEN

    key: str
    value: str


class ExecutionLabelsCondition(BaseModel):
    model_config = _FROZEN

    type: str
    # Kestra accepts a map or a list of {key, value}.
    labels: dict[str, str] | list[LabelPair]

    def label_map(self) -> dict[str, str]:
        if isinstance(self.labels, dict):
            return dict(self.labels)
        return {pair.key: pair.value for pair in self.labels}


class ExecutionOutputsCondition(BaseModel):
    model_config = _FROZEN

    type: str
    expression: str = Field(min_length=1)


class ExpressionCondition(BaseModel):
    model_config = _FROZEN

    type: str
    expression: str = Field(min_length=1)


Condition = (
    ExecutionFlowCondition
    | ExecutionNamespaceCondition
    | ExecutionStatusCondition
    | ExecutionLabelsCondition
    | ExecutionOutputsCondition
    | ExpressionCondition
)

CONDITION_MODELS: dict[str, type[BaseModel]] = {
    **dict.fromkeys(
        _names(
            "ExecutionFlow",
            "io.kestra.core.models.conditions.types.ExecutionFlowCondition",
            "io.kestra.plugin.core.condition.ExecutionFlowCondition",
        ),
        ExecutionFlowCondition,
    ),
    **dict.fromkeys(
        _names(
            "ExecutionNamespace",
            "io.kestra.core.models.conditions.types.ExecutionNamespaceCondition",
            "io.kestra.plugin.core.condition.ExecutionNamespaceCondition",
        ),
        ExecutionNamespaceCondition,
    ),
    **dict.fromkeys(
        _names(
            "ExecutionStatus",
            "io.kestra.core.models.conditions.types.ExecutionStatusCondition",
            "io.kestra.plugin.core.condition.ExecutionStatusCondition",
        ),
        ExecutionStatusCondition,
    ),
    **dict.fromkeys(
        _names(
            "ExecutionLabels",
            "io.kestra.core.models.conditions.types.ExecutionLabelsCondition",
            "io.kestra.plugin.core.condition.ExecutionLabelsCondition",
        ),
        ExecutionLabelsCondition,
    ),
    **dict.fromkeys(
        _names(
            "ExecutionOutputs",
            "io.kestra.core.models.conditions.types.ExecutionOutputsCondition",
            "io.kestra.plugin.core.condition.ExecutionOutputsCondition",
        ),
        ExecutionOutputsCondition,
    ),
    **dict.fromkeys(
        _names(
            "Expression",
            "io.kestra.core.models.conditions.types.VariableCondition",
            "io.kestra.plugin.core.condition.ExpressionCondition",
        ),
        ExpressionCondition,
    ),
}


class ConditionSpec(BaseModel):
    """A condition as written; its own model (CONDITION_MODELS) checks the rest."""

    model_config = ConfigDict(frozen=True, extra="allow")

    type: str

    def parsed(self) -> Condition:
        """The condition's model; raises KeyError/ValidationError (validation refuses both
        at deploy, so a deployed flow's conditions always parse)."""
        model = CONDITION_MODELS[self.type]
        parsed: Condition = model.model_validate(self.model_dump())  # type: ignore[assignment]
        return parsed


class UpstreamFlow(BaseModel):
    model_config = _FROZEN

    namespace: str
    flowId: str | None = None
    states: list[State] | None = None
    labels: dict[str, Any] | None = None


FilterField = Literal["FLOW_ID", "NAMESPACE", "STATE", "EXPRESSION"]
FilterType = Literal[
    "EQUAL_TO",
    "NOT_EQUAL_TO",
    "IN",
    "NOT_IN",
    "IS_TRUE",
    "IS_FALSE",
    "IS_NULL",
    "IS_NOT_NULL",
    "STARTS_WITH",
    "ENDS_WITH",
    "REGEX",
    "CONTAINS",
]
# Filter types that compare with a list (`values`); the others but IS_* need `value`.
LIST_FILTERS = ("IN", "NOT_IN")
UNARY_FILTERS = ("IS_TRUE", "IS_FALSE", "IS_NULL", "IS_NOT_NULL")


class Filter(BaseModel):
    model_config = _FROZEN

    field: FilterField
    type: FilterType
    value: str | None = None
    values: list[str] | None = None


class ExecutionFilter(BaseModel):
    model_config = _FROZEN

    id: str = Field(min_length=1)
    operand: Literal["AND", "OR"] = "AND"
    filters: list[Filter] = Field(min_length=1)


WindowType = Literal[
    "DURATION_WINDOW", "SLIDING_WINDOW", "DAILY_TIME_DEADLINE", "DAILY_TIME_WINDOW"
]


class TimeWindow(BaseModel):
    model_config = _FROZEN

    type: WindowType = "DURATION_WINDOW"
    # ISO-8601 durations (PT1H, P1D), checked at validation.
    window: str | None = None
    windowAdvance: str | None = None
    deadline: dt.time | None = None
    startTime: dt.time | None = None
    endTime: dt.time | None = None

    @field_validator("deadline", "startTime", "endTime")
    @classmethod
    def _utc_wall_time(cls, value: dt.time | None) -> dt.time | None:
        # YAML reads an unquoted 9:00:00 as 32400 (base 60), which pydantic turns into a
        # time with a UTC zone: times of day are UTC here, so drop the zone either way.
        return value.replace(tzinfo=None) if value is not None else None


class Preconditions(BaseModel):
    model_config = _FROZEN

    id: str = Field(pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]*$")
    timeWindow: TimeWindow = Field(default_factory=TimeWindow)
    resetOnSuccess: bool = True
    flows: list[UpstreamFlow] = Field(default_factory=list)
    where: list[ExecutionFilter] = Field(default_factory=list)

    def condition_ids(self) -> list[str]:
        """Every precondition's name: all must be met inside one window to fire."""
        return [f"flows[{i}]" for i in range(len(self.flows))] + [
            f"where[{f.id}]" for f in self.where
        ]


# Kestra's default: every terminal state (State.Type.terminatedTypes()).
DEFAULT_STATES = sorted(TERMINAL_STATES)


class FlowTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    description: str | None = None
    disabled: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    # The new execution's labels: a map or Kestra's list of {key, value}.
    labels: dict[str, str] | list[LabelPair] = Field(default_factory=dict)
    states: list[State] = Field(default_factory=lambda: list(DEFAULT_STATES))
    conditions: list[ConditionSpec] = Field(default_factory=list)
    preconditions: Preconditions | None = None
    # Disable this trigger when an execution it started ends in one of these states.
    stopAfter: list[State] | None = None

    def label_map(self) -> dict[str, str]:
        if isinstance(self.labels, dict):
            return dict(self.labels)
        return {pair.key: pair.value for pair in self.labels}

    def parsed_conditions(self) -> list[Condition]:
        return [spec.parsed() for spec in self.conditions]


MODELS: dict[str, type[BaseModel]] = dict.fromkeys(FLOW_TYPES, FlowTrigger)
