"""What a trigger's model cannot say alone: a cron that parses, a time zone that exists.
Pure; used at validation (with the line). Each trigger family registers its own checks
with `@checks(Model)`, in a module of its own imported at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel

from schemas.triggers import ScheduleOnDatesTrigger, ScheduleTrigger

# (field, problem); field "" means the trigger itself.
Problem = tuple[str, str]
_CHECKS: dict[type[BaseModel], Callable[[BaseModel], Iterator[Problem]]] = {}


def checks(
    model: type[BaseModel],
) -> Callable[[Callable[[BaseModel], Iterator[Problem]]], Callable[[BaseModel], Iterator[Problem]]]:
    def register(
        function: Callable[[BaseModel], Iterator[Problem]],
    ) -> Callable[[BaseModel], Iterator[Problem]]:
        _CHECKS[model] = function
        return function

    return register


def trigger_problems(trigger: BaseModel) -> list[Problem]:
    check = _CHECKS.get(type(trigger))
    return list(check(trigger)) if check is not None else []


def time_zone_problem(field: str, name: str) -> Iterator[Problem]:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        yield field, f"unknown time zone '{name}'"


@checks(ScheduleTrigger)
def _schedule(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, ScheduleTrigger)
    fields = 6 if trigger.withSeconds else 5
    if len(trigger.cron.split()) != fields or not croniter.is_valid(
        trigger.cron, second_at_beginning=trigger.withSeconds
    ):
        yield "cron", f"'{trigger.cron}' is not a valid {fields}-field cron"
    yield from time_zone_problem("timezone", trigger.timezone)


@checks(ScheduleOnDatesTrigger)
def _schedule_on_dates(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, ScheduleOnDatesTrigger)
    yield from time_zone_problem("timezone", trigger.timezone)


# Each trigger family's checks register themselves on import (kept in their own modules).
from streams.core import (  # noqa: E402, F401
    flow_trigger_checks,
    http_trigger_checks,
    kafka_trigger_checks,
    webhook_trigger_checks,
)
