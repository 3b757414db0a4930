"""When a schedule is due: pure functions of (trigger, last fire, now).

Two kinds of schedule: a cron (`Schedule`) and a list of dates (`ScheduleOnDates`).
Both give their slots through `fires_between`, so recovery of missed fires, backfills
and the next fire work the same for both.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from croniter import croniter

from schemas.triggers import AnySchedule, ScheduleOnDatesTrigger, ScheduleTrigger

# A schedule that missed more than this many fires (a scheduler down for long, a
# per-second cron) recovers the most recent ones only, so one trigger cannot flood the log.
MAX_FIRES_PER_TICK = 1000
_SECOND = dt.timedelta(seconds=1)


def _iterator(trigger: ScheduleTrigger, start: dt.datetime) -> croniter:
    zone = ZoneInfo(trigger.timezone)
    # Kestra writes six-field crons (withSeconds) with the seconds first.
    return croniter(trigger.cron, start.astimezone(zone), second_at_beginning=trigger.withSeconds)


def dates_of(trigger: ScheduleOnDatesTrigger) -> list[dt.datetime]:
    """The trigger's dates in UTC, sorted, once each, to the second (as Kestra truncates
    them). A date written without an offset is a wall time in the trigger's time zone."""
    zone = ZoneInfo(trigger.timezone)
    found = {
        (d if d.tzinfo is not None else d.replace(tzinfo=zone))
        .astimezone(dt.UTC)
        .replace(microsecond=0)
        for d in trigger.dates
    }
    return sorted(found)


def _slots_after(trigger: AnySchedule, after: dt.datetime, limit: int) -> list[dt.datetime]:
    """The first `limit` slots strictly after `after`, in order."""
    if isinstance(trigger, ScheduleOnDatesTrigger):
        return [d for d in dates_of(trigger) if d > after][:limit]
    iterator = _iterator(trigger, after)
    return [iterator.get_next(dt.datetime).astimezone(dt.UTC) for _ in range(limit)]


def fires_between(
    trigger: AnySchedule, after: dt.datetime, until: dt.datetime
) -> list[dt.datetime]:
    """Scheduled times t with after < t <= until, in UTC, at most MAX_FIRES_PER_TICK (latest)."""
    if isinstance(trigger, ScheduleOnDatesTrigger):
        return [d for d in dates_of(trigger) if after < d <= until][-MAX_FIRES_PER_TICK:]
    found: list[dt.datetime] = []
    iterator = _iterator(trigger, after)
    while True:
        fire: dt.datetime = iterator.get_next(dt.datetime).astimezone(dt.UTC)
        if fire > until:
            return found
        found.append(fire)
        if len(found) > MAX_FIRES_PER_TICK:
            found.pop(0)


def next_fire(trigger: AnySchedule, after: dt.datetime) -> dt.datetime | None:
    """The first slot after `after`; None when a list of dates has none left."""
    found = _slots_after(trigger, after, 1)
    return found[0] if found else None


def backfill_slots(
    trigger: AnySchedule,
    start: dt.datetime,
    end: dt.datetime,
    done: dt.datetime | None,
    limit: int,
) -> list[dt.datetime]:
    """The next `limit` slots of a backfill, in order: start <= slot <= end, after the
    last slot it fired (`done`)."""
    after = done if done is not None else start - _SECOND
    return [s for s in _slots_after(trigger, max(after, start - _SECOND), limit) if s <= end]


def due(
    trigger: AnySchedule,
    last_fired: dt.datetime | None,
    flow_since: dt.datetime,
    now: dt.datetime,
    tick: dt.timedelta,
) -> list[dt.datetime]:
    """The scheduled times to fire now.

    A trigger never fired starts from its backfill start, else from when its flow was
    deployed (no fires before it existed: Kestra's ScheduleOnDates also skips the dates
    before its trigger was created). Fires missed while no scheduler ran, or while the
    trigger was disabled, are recovered according to `recoverMissedSchedules`; "missed"
    means older than one tick.
    """
    if trigger.disabled:
        return []
    backfill = trigger.backfill if isinstance(trigger, ScheduleTrigger) else None
    start = last_fired or (backfill.start if backfill else flow_since)
    fires = fires_between(trigger, start, now)
    if backfill and backfill.end and last_fired is None:
        fires = [f for f in fires if f <= backfill.end or f > now - tick]
    recent = [f for f in fires if f > now - tick]
    missed = [f for f in fires if f <= now - tick]
    if backfill and last_fired is None:
        return fires  # a backfill asks for every past fire explicitly
    if trigger.recoverMissedSchedules == "ALL":
        return fires
    if trigger.recoverMissedSchedules == "LAST":
        return ([missed[-1]] if missed and not recent else []) + recent
    return recent
