"""What a trigger's model cannot say alone: a cron that parses, a time zone that exists,
a deserializer or topic pattern that works. Pure; used at validation (with the line)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import BaseModel

from schemas.inputs import parse_duration
from schemas.triggers import ScheduleOnDatesTrigger, ScheduleTrigger
from schemas.triggers.kafka import (
    NEEDS_REGISTRY,
    KafkaBatchTrigger,
    KafkaRealtimeTrigger,
    KafkaTriggerBase,
)

# (field, problem); field "" means the trigger itself.
Problem = tuple[str, str]
_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")
_CHECKS: dict[type[BaseModel], Callable[[BaseModel], Iterator[Problem]]] = {}


def checks(model: type[BaseModel]) -> Callable[
    [Callable[[BaseModel], Iterator[Problem]]], Callable[[BaseModel], Iterator[Problem]]
]:
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


def _duration_problem(field: str, text: str | None) -> Iterator[Problem]:
    if text is None:
        return
    try:
        if parse_duration(text).total_seconds() <= 0:
            yield field, f"'{text}' must be a positive duration"
    except ValueError:
        yield field, f"'{text}' is not an ISO-8601 duration (e.g. PT30S)"


@checks(KafkaRealtimeTrigger)
@checks(KafkaBatchTrigger)
def _kafka(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, KafkaTriggerBase)
    for field in ("keyDeserializer", "valueDeserializer"):
        kind = getattr(trigger, field)
        if kind in NEEDS_REGISTRY:
            yield field, (
                f"{kind} needs a schema registry, which Lanner does not read yet; "
                "use JSON, STRING, BYTES or a number type"
            )
    if not trigger.properties.get("bootstrap.servers"):
        yield "properties", "'bootstrap.servers' is required in `properties`"
    if trigger.topicPattern is not None:
        try:
            re.compile(trigger.topicPattern)
        except re.error as exc:
            yield "topicPattern", f"'{trigger.topicPattern}' is not a valid pattern: {exc}"
    for index, name in enumerate(trigger.topics):
        if not _TOPIC_NAME.match(name):
            yield f"topic[{index}]" if isinstance(trigger.topic, list) else "topic", (
                f"'{name}' is not a valid Kafka topic name"
            )
    if any(p < 0 for p in trigger.partitions or []):
        yield "partitions", "partitions are numbered from 0"
    if trigger.since is not None:
        try:
            dt.datetime.fromisoformat(trigger.since.replace("Z", "+00:00"))
        except ValueError:
            yield "since", f"'{trigger.since}' is not an ISO-8601 date-time"
    if trigger.onSerdeError is not None:
        if trigger.onSerdeError.type == "DLQ" and not trigger.onSerdeError.topic:
            yield "onSerdeError.topic", "a DLQ needs the topic to write undeserializable records to"
        if trigger.onSerdeError.type == "STORE":
            yield "onSerdeError.type", "STORE is not supported; use SKIPPED or DLQ"
    if isinstance(trigger, KafkaBatchTrigger):
        for field in ("interval", "pollDuration", "maxDuration"):
            yield from _duration_problem(field, getattr(trigger, field))


@checks(ScheduleOnDatesTrigger)
def _schedule_on_dates(trigger: BaseModel) -> Iterator[Problem]:
    assert isinstance(trigger, ScheduleOnDatesTrigger)
    yield from time_zone_problem("timezone", trigger.timezone)


# Each trigger family's checks register themselves on import (kept in their own modules).
from streams.core import flow_trigger_checks  # noqa: E402, F401
