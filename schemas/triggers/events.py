"""Trigger state as events on `trigger-events` (key: tenant/namespace/flow id/trigger id).

Every trigger type records what it did here: fires and failures, operator control
(enable, disable, backfills), and the progress of listeners on external topics.
The trigger's current state is a fold of these events (schemas/triggers/state.py), so a
restarted scheduler, a second instance or the triggers view all see the same thing.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class TriggerEventBase(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    namespace: str
    flow_id: str
    trigger_id: str
    time: dt.datetime
    actor: str = "scheduler"

    @property
    def key(self) -> str:
        return trigger_key(self.tenant, self.namespace, self.flow_id, self.trigger_id)


def trigger_key(tenant: str, namespace: str, flow_id: str, trigger_id: str) -> str:
    return f"{tenant}/{namespace}/{flow_id}/{trigger_id}"


class TriggerFired(TriggerEventBase):
    """An execution was requested. `scheduled` is the slot of a schedule; `source` says
    what else caused it (a record's topic/partition/offset, an upstream execution)."""

    type: Literal["TriggerFired"] = "TriggerFired"
    scheduled: dt.datetime | None = None
    execution_id: str
    next_fire: dt.datetime | None = None
    source: dict[str, Any] = Field(default_factory=dict)
    # Set when the fire is a slot of a backfill (BackfillStarted.backfill_id), which
    # moves the backfill on and leaves the schedule's own last fire alone.
    backfill_id: str | None = None


class TriggerFailed(TriggerEventBase):
    """The trigger was due but no execution could be created (e.g. invalid inputs)."""

    type: Literal["TriggerFailed"] = "TriggerFailed"
    scheduled: dt.datetime | None = None
    error: str
    backfill_id: str | None = None


class TriggerDisabled(TriggerEventBase):
    """Stops firing until enabled again (an operator, or a schedule's `stopAfter`)."""

    type: Literal["TriggerDisabled"] = "TriggerDisabled"
    reason: str | None = None


class TriggerEnabled(TriggerEventBase):
    type: Literal["TriggerEnabled"] = "TriggerEnabled"


class BackfillStarted(TriggerEventBase):
    """Fire every slot from `start` to `end` (now when absent), in order, once each.
    `backfill_id` names this backfill in its executions' ids: a slot fired twice by the
    same backfill is one execution, a new backfill over the same dates runs them again."""

    type: Literal["BackfillStarted"] = "BackfillStarted"
    backfill_id: str = ""
    start: dt.datetime
    end: dt.datetime | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)

    @property
    def identity(self) -> str:
        return self.backfill_id or self.time.isoformat()


class BackfillStopped(TriggerEventBase):
    """The backfill is over: deleted by an operator, or `completed` by the scheduler."""

    type: Literal["BackfillStopped"] = "BackfillStopped"
    reason: str | None = None
    # Which backfill it stops (None: whichever runs); a late stop of an earlier
    # backfill leaves a newer one running.
    backfill_id: str | None = None


class BackfillPaused(TriggerEventBase):
    """An operator paused (`paused`) or unpaused the running backfill."""

    type: Literal["BackfillPaused"] = "BackfillPaused"
    paused: bool = True
    backfill_id: str | None = None


class ListenerProgress(TriggerEventBase):
    """A listener on an external topic: where it is (partition key `topic/partition` ->
    next offset) and what it made of the records since its last progress event."""

    type: Literal["ListenerProgress"] = "ListenerProgress"
    positions: dict[str, int] = Field(default_factory=dict)
    accepted: int = 0
    dead_lettered: int = 0


class ListenerErrored(TriggerEventBase):
    """The listener cannot read (an unreachable cluster, refused credentials); it keeps
    trying and records ListenerRecovered when it reads again."""

    type: Literal["ListenerErrored"] = "ListenerErrored"
    error: str


class ListenerRecovered(TriggerEventBase):
    type: Literal["ListenerRecovered"] = "ListenerRecovered"


class BatchClosed(TriggerEventBase):
    """A batch trigger closed a batch: recorded *before* its execution is requested, so
    a restart re-requests exactly this batch (same id, same records) instead of
    cutting the records into other batches. `ranges`: `topic/partition` -> [first, next)."""

    type: Literal["BatchClosed"] = "BatchClosed"
    execution_id: str
    uri: str
    count: int
    ranges: dict[str, tuple[int, int]]


TriggerEvent = Annotated[
    TriggerFired
    | TriggerFailed
    | TriggerDisabled
    | TriggerEnabled
    | BackfillStarted
    | BackfillStopped
    | BackfillPaused
    | ListenerProgress
    | ListenerErrored
    | ListenerRecovered
    | BatchClosed,
    Field(discriminator="type"),
]
TRIGGER_EVENT_ADAPTER: TypeAdapter[TriggerEvent] = TypeAdapter(TriggerEvent)
