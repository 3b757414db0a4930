"""io.kestra.plugin.kafka.Consume: records from Kafka topics into a file, on confluent-kafka.

`topic` (one or a list) or `topicPattern` (with `groupId`); `partitions` to read only
some; `since` (ISO date-time) to start there when there is no group. With a `groupId` the
group's committed offsets say where to start (`auto.offset.reset` in `properties` when it
has none), and the offsets of what was written are committed once the file is stored, as
in Kestra. Without one, every partition is read from the start (or from `since`).

Reading stops when a poll of `pollDuration` brings nothing, after `maxRecords` records, or
after `maxDuration`. Each record is written as Kestra's Message (key, value, topic,
partition, timestamp, offset, headers), one JSON line each. Outputs: `messagesCount`,
`uri`. A record the deserializers cannot read fails the task with its position.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaError,
    KafkaException,
    TopicPartition,
)
from pydantic import Field, model_validator

from schemas.inputs import parse_duration
from schemas.states import State
from streams.plugins.base import Outcome, WorkerContext, WorkerTask
from streams.plugins.core.files import TaskFileError, publish, workdir
from streams.plugins.kafka.clients import (
    CONNECT_TIMEOUT_S,
    HeardErrors,
    KafkaTaskError,
    reach,
    settings,
)
from streams.plugins.kafka.serdes import SerdeType, check_serde
from streams.plugins.rows import RowWriter
from streams.triggers.kafka_records import RawRecord, Undeserializable, matches_headers, message

_BATCH = 500
# A group must have partitions before a quiet poll may end the task: joining takes a few
# seconds, and an empty poll then says nothing about the topic.
_JOIN_TIMEOUT_S = 60.0


@dataclass
class _Progress:
    count: int = 0
    by_topic: dict[str, int] = field(default_factory=dict)
    # Next offset to commit, per (topic, partition): only what was written.
    next_offsets: dict[tuple[str, int], int] = field(default_factory=dict)
    assigned: bool = False


class Consume(WorkerTask):
    TYPE: ClassVar[str] = "kafka.Consume"
    KESTRA_TYPES: ClassVar[tuple[str, ...]] = ("io.kestra.plugin.kafka.Consume",)

    properties: dict[str, str]
    serdeProperties: dict[str, str] = Field(default_factory=dict)
    topic: str | list[str] | None = None
    topicPattern: str | None = None
    partitions: list[int] | None = None
    groupId: str | None = None
    groupType: str = "CONSUMER"
    keyDeserializer: SerdeType = "STRING"
    valueDeserializer: SerdeType = "STRING"
    schemaRegistryVendor: dict[str, Any] | None = None
    since: str | None = None
    pollDuration: str = "PT5S"
    maxRecords: int | None = Field(default=None, ge=1)
    maxDuration: str | None = None
    headerFilters: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_subscription(self) -> Consume:
        if (self.topic is None) == (self.topicPattern is None):
            raise ValueError("set exactly one of `topic` or `topicPattern`")
        if self.topicPattern is not None and not self.groupId:
            raise ValueError("`groupId` is required with `topicPattern`")
        if self.topicPattern is not None and not _compiles(self.topicPattern):
            raise ValueError(f"Invalid regex for `topicPattern`: {self.topicPattern}")
        if self.groupType != "CONSUMER":
            raise ValueError(f"groupType {self.groupType} is not supported (only CONSUMER)")
        check_serde(self.keyDeserializer, "keyDeserializer")
        check_serde(self.valueDeserializer, "valueDeserializer")
        return self

    @property
    def topics(self) -> list[str]:
        if self.topic is None:
            return []
        return [self.topic] if isinstance(self.topic, str) else list(self.topic)

    def _limits(self) -> tuple[float, float | None, int | None]:
        try:
            poll = parse_duration(self.pollDuration).total_seconds()
            most = parse_duration(self.maxDuration).total_seconds() if self.maxDuration else None
            since = _since_ms(self.since)
        except ValueError as exc:
            raise KafkaTaskError(str(exc)) from None
        return poll, most, since

    async def run(self, ctx: WorkerContext) -> Outcome:
        try:
            async with workdir(ctx) as folder:
                target = folder / "consume.jsonl"
                progress, consumer = await asyncio.to_thread(self._consume_to, target, folder)
                try:
                    uri = await publish(ctx, target, target.name)
                    if self.groupId:
                        await asyncio.to_thread(_commit, consumer, progress)
                finally:
                    await asyncio.to_thread(consumer.close)
        except (KafkaTaskError, TaskFileError, KafkaException) as exc:
            return Outcome(State.FAILED, error=f"task {self.id}: {exc}")
        for topic, count in sorted(progress.by_topic.items()):
            await ctx.log("INFO", f"consumed {count} records from {topic}")
        return Outcome(State.SUCCESS, {"messagesCount": progress.count, "uri": uri})

    def _consume_to(self, target: Path, folder: Path) -> tuple[_Progress, Consumer]:
        poll_s, max_s, since = self._limits()
        heard = HeardErrors()
        config = settings(self.properties, folder, heard)
        config.setdefault("enable.auto.commit", False)
        config.setdefault("isolation.level", "read_committed")
        if self.groupId:
            config["group.id"] = self.groupId
        else:
            # librdkafka wants a group id even for assigned partitions; nothing is committed.
            config.setdefault("group.id", "lanner-consume-unused")
        consumer = Consumer(config)
        progress = _Progress()
        try:
            self._subscribe(consumer, progress, since, heard)
            with target.open("w", encoding="utf-8") as out:
                self._read(consumer, RowWriter(out), progress, poll_s, max_s, heard)
        except BaseException:
            consumer.close()
            raise
        return progress, consumer

    def _subscribe(
        self, consumer: Consumer, progress: _Progress, since: int | None, heard: HeardErrors
    ) -> None:
        if self.groupId and not self.partitions:

            def on_assign(_: Consumer, partitions: list[TopicPartition]) -> None:
                progress.assigned = progress.assigned or bool(partitions)

            subscription = [_anchored(self.topicPattern)] if self.topicPattern else self.topics
            consumer.subscribe(subscription, on_assign=on_assign)
            return
        metadata = reach(consumer, None, heard)
        wanted: list[TopicPartition] = []
        for topic in self.topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                reason = found.error.str() if found is not None else "no such topic"
                raise KafkaTaskError(f"topic {topic!r}: {reason}")
            numbers = self.partitions or sorted(found.partitions)
            wanted += [TopicPartition(topic, p, OFFSET_BEGINNING) for p in numbers]
        if since is not None:
            times = [TopicPartition(tp.topic, tp.partition, since) for tp in wanted]
            found_offsets = consumer.offsets_for_times(times, timeout=CONNECT_TIMEOUT_S)
            # A partition with nothing at or after `since` answers -1: read none of it.
            wanted = [tp for tp in found_offsets if tp.offset >= 0]
        consumer.assign(wanted)
        progress.assigned = True

    def _read(
        self,
        consumer: Consumer,
        out: RowWriter,
        progress: _Progress,
        poll_s: float,
        max_s: float | None,
        heard: HeardErrors,
    ) -> None:
        started = time.monotonic()
        while True:
            elapsed = time.monotonic() - started
            if max_s is not None and elapsed >= max_s:
                return
            if not progress.assigned and elapsed >= _JOIN_TIMEOUT_S:
                raise KafkaTaskError(
                    f"no partitions assigned within {_JOIN_TIMEOUT_S:.0f}s: {heard.last()}"
                )
            wanted = _BATCH
            if self.maxRecords is not None:
                wanted = min(wanted, self.maxRecords - progress.count)
            wait = poll_s if max_s is None else max(0.0, min(poll_s, max_s - elapsed))
            records = consumer.consume(num_messages=wanted, timeout=wait)
            for record in records:
                self._write(record, out, progress)
            if not records and progress.assigned:
                return
            if self.maxRecords is not None and progress.count >= self.maxRecords:
                return

    def _write(self, record: Any, out: RowWriter, progress: _Progress) -> None:
        error = record.error()
        if error is not None:
            if error.code() == KafkaError._PARTITION_EOF:
                return
            raise KafkaTaskError(f"reading {record.topic()}: {error.str()}")
        kind, stamp = record.timestamp()
        raw = RawRecord(
            topic=record.topic(),
            partition=record.partition(),
            offset=record.offset(),
            timestamp_ms=stamp if kind else None,
            key=record.key(),
            value=record.value(),
            headers=tuple(record.headers() or ()),
        )
        progress.next_offsets[(raw.topic, raw.partition)] = raw.offset + 1
        if not matches_headers(raw, self.headerFilters):
            return
        try:
            out.write(message(raw, self.keyDeserializer, self.valueDeserializer))
        except Undeserializable as exc:
            raise KafkaTaskError(
                f"record {raw.topic}/{raw.partition}@{raw.offset} cannot be read: {exc}"
            ) from None
        progress.count += 1
        progress.by_topic[raw.topic] = progress.by_topic.get(raw.topic, 0) + 1


def _since_ms(since: str | None) -> int | None:
    if not since:
        return None
    try:
        moment = dt.datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"since {since!r} is not an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp() * 1000)


def _commit(consumer: Consumer, progress: _Progress) -> None:
    if not progress.next_offsets:
        return
    offsets = [TopicPartition(t, p, o) for (t, p), o in progress.next_offsets.items()]
    consumer.commit(offsets=offsets, asynchronous=False)


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _anchored(pattern: str) -> str:
    """librdkafka takes a subscription starting with ^ as a regex, and searches with it;
    Java's subscribe(Pattern), which Kestra uses, matches the whole topic name."""
    start = pattern if pattern.startswith("^") else f"^{pattern}"
    return start if start.endswith("$") else f"{start}$"
