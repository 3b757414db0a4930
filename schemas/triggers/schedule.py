"""Schedule triggers: `io.kestra.plugin.core.trigger.Schedule` (cron) and
`io.kestra.plugin.core.trigger.ScheduleOnDates` (a list of dates)."""

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


ON_DATES_TYPES = (
    "trigger.ScheduleOnDates",
    "io.kestra.plugin.core.trigger.ScheduleOnDates",
)


class ScheduleOnDatesTrigger(BaseModel):
    """Fires once on each of `dates` (Kestra's ScheduleOnDates). A date without an offset
    is read in `timezone`; dates are kept to the second, as Kestra truncates them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    type: str
    description: str | None = None
    dates: list[dt.datetime] = Field(min_length=1)
    timezone: str = "UTC"
    inputs: dict[str, Any] = Field(default_factory=dict)
    labels: dict[str, str] = Field(default_factory=dict)
    recoverMissedSchedules: Literal["ALL", "LAST", "NONE"] = "ALL"
    disabled: bool = False


AnySchedule = ScheduleTrigger | ScheduleOnDatesTrigger

MODELS: dict[str, type[BaseModel]] = {
    **{name: ScheduleTrigger for name in SCHEDULE_TYPES},
    **{name: ScheduleOnDatesTrigger for name in ON_DATES_TYPES},
}
