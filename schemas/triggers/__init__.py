"""Triggers: what starts a flow by itself, and the trigger state recorded as events.

Each trigger family lives in its own module with a `MODELS` table (type name -> model);
`TRIGGER_MODELS` joins them, so validation knows every trigger type that runs and
refuses any other.
"""

from __future__ import annotations

from pydantic import BaseModel

from schemas.triggers import schedule, webhook
from schemas.triggers.events import (
    TRIGGER_EVENT_ADAPTER,
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
    TriggerUnlocked,
    trigger_key,
)
from schemas.triggers.schedule import SCHEDULE_TYPES, Backfill, ScheduleTrigger
from schemas.triggers.state import TriggerState, fold_trigger

TRIGGER_MODELS: dict[str, type[BaseModel]] = {
    **schedule.MODELS,
    **webhook.MODELS,
}

__all__ = [
    "SCHEDULE_TYPES",
    "TRIGGER_EVENT_ADAPTER",
    "TRIGGER_MODELS",
    "Backfill",
    "BackfillStarted",
    "BackfillStopped",
    "BatchClosed",
    "ListenerErrored",
    "ListenerProgress",
    "ListenerRecovered",
    "ScheduleTrigger",
    "TriggerDisabled",
    "TriggerEnabled",
    "TriggerEvent",
    "TriggerEventBase",
    "TriggerFailed",
    "TriggerFired",
    "TriggerState",
    "TriggerUnlocked",
    "fold_trigger",
    "trigger_key",
]
