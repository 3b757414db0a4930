"""When a schedule is due: pure functions of (trigger, last fire, now)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from croniter import croniter

from schemas.triggers import ScheduleTrigger

# A schedule that missed more than this many fires (a scheduler down for long, a
# per-second cron) recovers the most recent ones only, so one trigger cannot flood the log.
MAX_FIRES_PER_TICK = 1000


def _iterator(trigger: ScheduleTrigger, start: dt.datetime) -> croniter:
    zone = ZoneInfo(trigger.timezone)
    # Kestra writes six-field crons (withSeconds) with the seconds first.
    return croniter(trigger.cron, start.astimezone(zone), second_at_beginning=trigger.withSeconds)


def fires_between(
    trigger: ScheduleTrigger, after: dt.datetime, until: dt.datetime
) -> list[dt.datetime]:
    """Scheduled times t with after < t <= until, in UTC, at most MAX_FIRES_PER_TICK (latest)."""
    found: list[dt.datetime] = []
    iterator = _iterator(trigger, after)
    while True:
        fire: dt.datetime = iterator.get_next(dt.datetime).astimezone(dt.UTC)
        if fire > until:
            return found
        found.append(fire)
        if len(found) > MAX_FIRES_PER_TICK:
            found.pop(0)


def next_fire(trigger: ScheduleTrigger, after: dt.datetime) -> dt.datetime:
    fire: dt.datetime = _iterator(trigger, after).get_next(dt.datetime)
    return fire.astimezone(dt.UTC)


def due(
    trigger: ScheduleTrigger,
    last_fired: dt.datetime | None,
    flow_since: dt.datetime,
    now: dt.datetime,
    tick: dt.timedelta,
) -> list[dt.datetime]:
    """The scheduled times to fire now.

    A trigger never fired starts from its backfill start, else from when its flow was
    deployed (no fires before it existed). Fires missed while no scheduler ran are
    recovered according to `recoverMissedSchedules`; "missed" means older than one tick.
    """
    if trigger.disabled:
        return []
    start = last_fired or (trigger.backfill.start if trigger.backfill else flow_since)
    fires = fires_between(trigger, start, now)
    if trigger.backfill and trigger.backfill.end and last_fired is None:
        fires = [f for f in fires if f <= trigger.backfill.end or f > now - tick]
    recent = [f for f in fires if f > now - tick]
    missed = [f for f in fires if f <= now - tick]
    if trigger.backfill and last_fired is None:
        return fires  # a backfill asks for every past fire explicitly
    if trigger.recoverMissedSchedules == "ALL":
        return fires
    if trigger.recoverMissedSchedules == "LAST":
        return ([missed[-1]] if missed and not recent else []) + recent
    return recent
