"""The pure side of the scheduler: which scheduled times are due, and trigger validation."""

from __future__ import annotations

import datetime as dt

from schemas.triggers import Backfill, ScheduleTrigger
from streams.core.validation import ValidatedFlow, validate_flow
from streams.plugins.registry import PluginRegistry
from streams.scheduler.cron import due, fires_between

UTC = dt.UTC
TICK = dt.timedelta(seconds=1)


def trigger(cron: str = "*/5 * * * *", **extra: object) -> ScheduleTrigger:
    return ScheduleTrigger.model_validate(
        {"id": "t", "type": "io.kestra.plugin.core.trigger.Schedule", "cron": cron, **extra}
    )


def at(hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, 1, hour, minute, second, tzinfo=UTC)


def test_fires_between_is_exclusive_then_inclusive() -> None:
    assert fires_between(trigger(), at(10, 0), at(10, 15)) == [at(10, 5), at(10, 10), at(10, 15)]


def test_nothing_fires_before_the_flow_existed() -> None:
    assert due(trigger(), None, at(10, 3), at(10, 4), TICK) == []
    assert due(trigger(), None, at(10, 3), at(10, 5), TICK) == [at(10, 5)]


def test_a_fired_time_is_not_due_again() -> None:
    assert due(trigger(), at(10, 5), at(9, 0), at(10, 5, 30), TICK) == []


def test_missed_fires_are_recovered_as_configured() -> None:
    since, now = at(9, 0), at(10, 16)
    assert due(trigger(), at(10, 0), since, now, TICK) == [at(10, 5), at(10, 10), at(10, 15)]
    last = trigger(recoverMissedSchedules="LAST")
    assert due(last, at(10, 0), since, now, TICK) == [at(10, 15)]
    none = trigger(recoverMissedSchedules="NONE")
    assert due(none, at(10, 0), since, now, TICK) == []
    assert due(none, at(10, 0), since, at(10, 15, 0), TICK) == [at(10, 15)]


def test_backfill_fires_every_past_time_from_its_start() -> None:
    backfilled = trigger("0 * * * *", backfill=Backfill(start=at(6, 0)))
    assert due(backfilled, None, at(9, 30), at(9, 30), TICK) == [at(7, 0), at(8, 0), at(9, 0)]


def test_time_zones_shift_the_fires() -> None:
    paris = trigger("0 9 * * *", timezone="Europe/Paris")
    fires = fires_between(paris, at(0, 0), at(23, 0))
    assert fires == [at(8, 0)]  # 09:00 in Paris in March (UTC+1) is 08:00 UTC


def test_seconds_first_cron_with_seconds() -> None:
    fast = trigger("*/20 * * * * *", withSeconds=True)
    assert fires_between(fast, at(10, 0, 0), at(10, 1, 0)) == [
        at(10, 0, 20),
        at(10, 0, 40),
        at(10, 1, 0),
    ]


def test_disabled_trigger_never_fires() -> None:
    assert due(trigger(disabled=True), None, at(9, 0), at(12, 0), TICK) == []


FLOW = """
id: scheduled
namespace: company.team
tasks:
  - id: hi
    type: io.kestra.plugin.core.log.Log
    message: hi
triggers:
  - id: nightly
    type: io.kestra.plugin.core.trigger.Schedule
    cron: "{cron}"
    timezone: {zone}
"""


def test_valid_schedule_trigger_passes_validation() -> None:
    result = validate_flow(FLOW.format(cron="0 2 * * *", zone="UTC"), PluginRegistry.discover())
    assert isinstance(result, ValidatedFlow)


def test_bad_cron_and_time_zone_are_reported_with_lines() -> None:
    result = validate_flow(
        FLOW.format(cron="0 2 * 99 *", zone="Mars/Base"), PluginRegistry.discover()
    )
    assert isinstance(result, list)
    found = {(p.path, p.line): p.message for p in result}
    assert "not a valid 5-field cron" in found[("triggers[0].cron", 11)]
    assert "unknown time zone 'Mars/Base'" in found[("triggers[0].timezone", 12)]
