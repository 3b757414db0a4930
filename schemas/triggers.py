"""Schedule triggers and their state on `trigger-events` (key: flow uid + trigger id)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

SCHEDULE_TYPES = (
    "trigger.Schedule",
    "io.kestra.plugin.core.trigger.Schedule",
    "io.kestra.core.models.triggers.types.Schedule",
)


class Backfill(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.datetime
    end: dt.datetime | None = None


class ScheduleTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    description: str | None = None
    cron: str
    timezone: str = "UTC"
    withSeconds: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    backfill: Backfill | None = None
    recoverMissedSchedules: Literal["ALL", "LAST", "NONE"] = "ALL"
    disabled: bool = False


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
        return f"{self.tenant}/{self.namespace}/{self.flow_id}/{self.trigger_id}"


class TriggerFired(TriggerEventBase):
    type: Literal["TriggerFired"] = "TriggerFired"
    scheduled: dt.datetime
    execution_id: str
    next_fire: dt.datetime | None = None


class TriggerFailed(TriggerEventBase):
    """The trigger was due but no execution could be created (e.g. invalid inputs)."""

    type: Literal["TriggerFailed"] = "TriggerFailed"
    scheduled: dt.datetime
    error: str


TriggerEvent = Annotated[TriggerFired | TriggerFailed, Field(discriminator="type")]
TRIGGER_EVENT_ADAPTER: TypeAdapter[TriggerEvent] = TypeAdapter(TriggerEvent)
