"""ScheduleOnDates due dates, backfill slots in order, and the trigger fold of backfills."""

from __future__ import annotations

import datetime as dt

from schemas.triggers import (
    BackfillPaused,
    BackfillStarted,
    BackfillStopped,
    ScheduleOnDatesTrigger,
    ScheduleTrigger,
    TriggerDisabled,
    TriggerEnabled,
    TriggerFailed,
    TriggerFired,
    TriggerState,
    fold_trigger,
)
from streams.core.validation import ValidatedFlow, validate_flow
from streams.plugins.registry import PluginRegistry
from streams.scheduler.cron import backfill_slots, dates_of, due, fires_between, next_fire

UTC = dt.UTC
TICK = dt.timedelta(seconds=1)


def at(hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hour, minute, second, tzinfo=UTC)


def on_dates(*dates: object, **extra: object) -> ScheduleOnDatesTrigger:
    return ScheduleOnDatesTrigger.model_validate(
        {
            "id": "d",
            "type": "io.kestra.plugin.core.trigger.ScheduleOnDates",
            "dates": list(dates),
            **extra,
        }
    )


def cron(expression: str, **extra: object) -> ScheduleTrigger:
    return ScheduleTrigger.model_validate(
        {"id": "t", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": expression, **extra}
    )


def test_dates_are_sorted_once_each_to_the_second_in_their_zone() -> None:
    trigger = on_dates(
        "2026-03-01T10:00:00.700Z",
        "2026-03-01T09:00:00+00:00",
        "2026-03-01T10:00:00Z",
        "2026-03-01T11:30:00",
        timezone="Europe/Paris",
    )
    # The date without an offset is a wall time in Paris (UTC+1 in March).
    assert dates_of(trigger) == [at(9, 0), at(10, 0), at(10, 30)]


def test_each_date_fires_once_when_it_comes_and_not_before_the_flow_existed() -> None:
    trigger = on_dates(at(9, 0), at(10, 0), at(11, 0))
    since = at(9, 30)  # deployed after the first date: that one never fires
    assert due(trigger, None, since, at(9, 59, 59), TICK) == []
    assert due(trigger, None, since, at(10, 0), TICK) == [at(10, 0)]
    assert due(trigger, at(10, 0), since, at(10, 30), TICK) == []
    assert due(trigger, at(10, 0), since, at(11, 0, 0), TICK) == [at(11, 0)]
    assert due(trigger, at(11, 0), since, at(23, 0), TICK) == []


def test_missed_dates_are_recovered_as_configured() -> None:
    dates = (at(10, 0), at(10, 5), at(10, 10), at(10, 20))
    since, now = at(9, 0), at(10, 11)
    assert due(on_dates(*dates), None, since, now, TICK) == [at(10, 0), at(10, 5), at(10, 10)]
    last = on_dates(*dates, recoverMissedSchedules="LAST")
    assert due(last, None, since, now, TICK) == [at(10, 10)]
    none = on_dates(*dates, recoverMissedSchedules="NONE")
    assert due(none, None, since, now, TICK) == []
    assert due(none, None, since, at(10, 20), TICK) == [at(10, 20)]
    assert due(on_dates(*dates, disabled=True), None, since, now, TICK) == []


def test_next_fire_of_dates_ends_with_the_list() -> None:
    trigger = on_dates(at(10, 0), at(11, 0))
    assert next_fire(trigger, at(10, 0)) == at(11, 0)
    assert next_fire(trigger, at(11, 0)) is None
    assert fires_between(trigger, at(9, 0), at(12, 0)) == [at(10, 0), at(11, 0)]


def test_backfill_slots_run_in_order_from_start_to_end_included() -> None:
    hourly = cron("0 * * * *")
    assert backfill_slots(hourly, at(6, 0), at(9, 0), None, 10) == [
        at(6, 0),
        at(7, 0),
        at(8, 0),
        at(9, 0),
    ]
    # Two at a time, each batch after the last slot fired: every slot once, in order.
    fired: list[dt.datetime] = []
    done: dt.datetime | None = None
    for _ in range(5):
        batch = backfill_slots(hourly, at(6, 0), at(9, 0), done, 2)
        fired += batch
        done = batch[-1] if batch else done
    assert fired == [at(6, 0), at(7, 0), at(8, 0), at(9, 0)]
    # A start between slots begins at the next slot.
    assert backfill_slots(hourly, at(6, 30), at(8, 0), None, 10) == [at(7, 0), at(8, 0)]
    dates = on_dates(at(5, 0), at(7, 0), at(8, 0), at(12, 0))
    assert backfill_slots(dates, at(6, 0), at(9, 0), None, 10) == [at(7, 0), at(8, 0)]
    assert backfill_slots(dates, at(6, 0), at(9, 0), at(7, 0), 10) == [at(8, 0)]


def test_a_per_second_backfill_of_years_takes_only_its_batch() -> None:
    fast = cron("* * * * * *", withSeconds=True)
    start = dt.datetime(2020, 1, 1, tzinfo=UTC)
    slots = backfill_slots(fast, start, at(0, 0), None, 3)
    assert slots == [start, start + TICK, start + 2 * TICK]


COMMON = {"tenant": "main", "namespace": "n", "flow_id": "f", "trigger_id": "t"}


def test_fold_tracks_a_backfill_apart_from_the_schedule() -> None:
    started = BackfillStarted(
        backfill_id="b1", start=at(6, 0), end=at(9, 0), time=at(12, 0), actor="ada", **COMMON
    )
    state = fold_trigger(
        None,
        TriggerFired(
            execution_id="x", scheduled=at(11, 0), next_fire=at(12, 0), time=at(11, 0), **COMMON
        ),
    )
    state = fold_trigger(state, started)
    for hour in (6, 7):
        state = fold_trigger(
            state,
            TriggerFired(
                execution_id=f"b{hour}",
                scheduled=at(hour, 0),
                backfill_id="b1",
                time=at(12, 0),
                **COMMON,
            ),
        )
    assert state.backfill_current == at(7, 0) and state.backfill_fired == 2
    # The schedule's own memory is untouched by the backfill's slots.
    assert state.last_scheduled == at(11, 0) and state.next_fire == at(12, 0)
    # A failed slot moves the backfill on too, and says why.
    state = fold_trigger(
        state,
        TriggerFailed(
            error="bad input", scheduled=at(8, 0), backfill_id="b1", time=at(12, 0), **COMMON
        ),
    )
    assert state.backfill_current == at(8, 0) and state.last_error == "bad input"
    paused = fold_trigger(
        state, BackfillPaused(paused=True, backfill_id="b1", time=at(12, 1), **COMMON)
    )
    assert paused.backfill_paused
    # A late stop of another backfill leaves this one running.
    assert (
        fold_trigger(paused, BackfillStopped(backfill_id="old", time=at(12, 2), **COMMON)).backfill
        is not None
    )
    stopped = fold_trigger(
        paused, BackfillStopped(backfill_id="b1", reason="completed", time=at(12, 2), **COMMON)
    )
    assert stopped.backfill is None and not stopped.backfill_paused


def test_fold_disables_and_enables() -> None:
    state: TriggerState | None = None
    state = fold_trigger(state, TriggerDisabled(reason="by ada", time=at(1, 0), **COMMON))
    assert state.disabled and state.disabled_reason == "by ada"
    state = fold_trigger(state, TriggerEnabled(time=at(2, 0), **COMMON))
    assert not state.disabled and state.updated == at(2, 0)


FLOW = """
id: dated
namespace: company.team
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: launches
    type: io.kestra.plugin.core.trigger.ScheduleOnDates
    timezone: {zone}
    dates:
      - 2026-03-01T10:00:00Z
      - 2026-04-01T10:00:00+02:00
"""


def test_schedule_on_dates_validates_and_reports_a_bad_zone_with_its_line() -> None:
    registry = PluginRegistry.discover()
    assert isinstance(validate_flow(FLOW.format(zone="Europe/Paris"), registry), ValidatedFlow)
    problems = validate_flow(FLOW.format(zone="Mars/Base"), registry)
    assert isinstance(problems, list)
    found = {(p.path, p.line): p.message for p in problems}
    assert "unknown time zone 'Mars/Base'" in found[("triggers[0].timezone", 11)]
    empty = validate_flow(
        FLOW.format(zone="UTC").split("    dates:")[0] + "    dates: []\n", registry
    )
    assert isinstance(empty, list) and any(p.path.startswith("triggers[0]") for p in empty)
