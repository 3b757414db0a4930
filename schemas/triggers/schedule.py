"""Schedule triggers: `io.kestra.plugin.core.trigger.Schedule` (cron) and its relatives."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.states import State

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
    # Disable the trigger when an execution it started ends in one of these states.
    stopAfter: list[State] | None = None


MODELS: dict[str, type[BaseModel]] = {name: ScheduleTrigger for name in SCHEDULE_TYPES}
