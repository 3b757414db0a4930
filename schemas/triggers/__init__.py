"""Triggers: what starts a flow by itself, and the trigger state recorded as events.

Each trigger family lives in its own module with a `MODELS` table (type name -> model);
`TRIGGER_MODELS` joins them, so validation knows every trigger type that runs and
refuses any other.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.triggers import flow, http, kafka, schedule, webhook
from schemas.triggers.events import (
    TRIGGER_EVENT_ADAPTER,
    BackfillPaused,
    BackfillStarted,
    BackfillStopped,
    BatchClosed,
    ListenerErrored,
    ListenerProgress,
    ListenerRecovered,
    TriggerDisabled,
    TriggerEnabled,
    TriggerEvent,
    TriggerEventBase,
    TriggerFailed,
    TriggerFired,
    trigger_key,
)
from schemas.triggers.schedule import (
    ON_DATES_TYPES,
    SCHEDULE_TYPES,
    AnySchedule,
    Backfill,
    ScheduleOnDatesTrigger,
    ScheduleTrigger,
)
from schemas.triggers.state import TriggerState, fold_trigger

TRIGGER_MODELS: dict[str, type[BaseModel]] = {
    **schedule.MODELS,
    **kafka.MODELS,
    **flow.MODELS,
    **webhook.MODELS,
    **http.MODELS,
}

__all__ = [
    "ON_DATES_TYPES",
    "SCHEDULE_TYPES",
    "TRIGGER_EVENT_ADAPTER",
    "TRIGGER_MODELS",
    "AnySchedule",
    "Backfill",
    "BackfillPaused",
    "BackfillStarted",
    "BackfillStopped",
    "BatchClosed",
    "ListenerErrored",
    "ListenerProgress",
    "ListenerRecovered",
    "ScheduleOnDatesTrigger",
    "ScheduleTrigger",
    "TriggerDisabled",
    "TriggerEnabled",
    "TriggerEvent",
    "TriggerEventBase",
    "TriggerFailed",
    "TriggerFired",
    "TriggerState",
    "fold_trigger",
    "trigger_key",
]
