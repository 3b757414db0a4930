"""What Flow triggers keep and send between their two agents (streams/triggers/flow_*.py).

The first agent reads `execution-events` and keeps each execution's facts (labels, the
trigger that started it: they are only on ExecutionCreated); at each state change it
matches the flows' Flow triggers. A trigger with preconditions gets a ConditionsMet
record on `flow-trigger-conditions`, keyed by trigger, where the second agent keeps the
JoinState of that trigger and fires once every precondition is met inside its window.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import State
from schemas.triggers.events import trigger_key


class ExecutionFacts(BaseModel):
    """What ExecutionCreated said that later events do not repeat."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    flow_id: str
    flow_revision: int
    labels: dict[str, str] = Field(default_factory=dict)
    trigger: dict[str, Any] | None = None


class UpstreamExecution(BaseModel):
    """One state change of an upstream execution, as a Flow trigger sees it."""

    model_config = ConfigDict(frozen=True)

    execution_id: str
    seq: int
    time: dt.datetime
    state: State
    tenant: str
    namespace: str
    flow_id: str
    flow_revision: int
    labels: dict[str, str] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)

    @property
    def message_id(self) -> str:
        return f"{self.execution_id}:{self.seq}"


class ConditionsMet(BaseModel):
    """An upstream execution met these preconditions of one trigger (key: trigger key)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    flow_id: str
    trigger_id: str
    # The downstream flow's revision the match was made with: a new revision starts over.
    flow_revision: int
    conditions: tuple[str, ...]
    upstream: UpstreamExecution

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.trigger_id)


class JoinEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    time: dt.datetime
    execution_id: str
    seq: int


class JoinState(BaseModel):
    """Which preconditions of one trigger are met, by which upstream execution, and the
    inputs applied lately (a redelivered record must not count twice)."""

    model_config = ConfigDict(frozen=True)

    flow_revision: int
    met: dict[str, JoinEntry] = Field(default_factory=dict)
    seen: tuple[str, ...] = ()
