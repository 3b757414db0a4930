"""What a Kafka trigger's model cannot say alone: deserializers this listener reads, a
cluster to read from, topic names and patterns that work, durations and dates that parse.
Pure; registered with streams/core/trigger_checks.py (errors with their line)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from pydantic import BaseModel

from schemas.inputs import parse_duration
from schemas.triggers.kafka import (
    NEEDS_REGISTRY,
    KafkaBatchTrigger,
    KafkaRealtimeTrigger,
    KafkaTriggerBase,
)
from streams.core.trigger_checks import Problem, checks

_TOPIC_NAME = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


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
            yield (
                field,
                (
                    f"{kind} needs a schema registry, which Lanner does not read yet; "
                    "use JSON, STRING, BYTES or a number type"
                ),
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
            yield (
                f"topic[{index}]" if isinstance(trigger.topic, list) else "topic",
                (f"'{name}' is not a valid Kafka topic name"),
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
