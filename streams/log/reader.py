"""Read topics without a consumer group: whole reads (read_all) and live followers (tail).

Both use `assign()`, never `subscribe()`: no group join, no rebalance delay, no offset
commits, so reading can never disturb the Faust apps' own consumer groups.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    Consumer,
    KafkaError,
    Message,
    TopicPartition,
)

from streams.log.client_logging import kafka_logging
from streams.log.errors import LogError, LogTimeoutError, UnknownTopicError

log = logging.getLogger(__name__)

_BATCH = 500


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int
    # Left out of the hash (a dict is not hashable) but part of equality.
    headers: Mapping[str, str] = field(default_factory=dict, hash=False)


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            # Required by the client even though nothing joins a group or commits.
            "group.id": f"lanner-reader-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            # Bounded prefetch keeps memory flat however long the topic is.
            "queued.max.messages.kbytes": 16 * 1024,
            "fetch.wait.max.ms": 50,
            **kafka_logging(),
        }
    )


def _partitions(consumer: Consumer, bootstrap: str, topic: str, timeout_s: float) -> list[int]:
    metadata = consumer.list_topics(topic, timeout=timeout_s)
    found = metadata.topics.get(topic)
    if found is None or (
        found.error is not None and found.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    ):
        raise UnknownTopicError(topic, bootstrap)
    if found.error is not None:
        raise LogError(f"metadata of topic {topic!r} on {bootstrap}: {found.error.str()}")
    return sorted(found.partitions)


def _end_offsets(
    consumer: Consumer, bootstrap: str, topic: str, timeout_s: float
) -> dict[int, int]:
    ends: dict[int, int] = {}
    for partition in _partitions(consumer, bootstrap, topic, timeout_s):
        _low, high = consumer.get_watermark_offsets(
            TopicPartition(topic, partition), timeout=timeout_s, cached=False
        )
        ends[partition] = int(high)
    return ends


def end_offsets(bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> dict[int, int]:
    """The high watermark (next offset to be written) of every partition of `topic`."""
    consumer = _consumer(bootstrap)
    try:
        return _end_offsets(consumer, bootstrap, topic, timeout_s)
    finally:
        consumer.close()


def _next_batch(consumer: Consumer, timeout_s: float) -> list[Message]:
    """What is there now, as soon as there is anything.

    `consume(n, timeout)` waits until it has n messages or the timeout passed, which adds
    the whole timeout to every record's latency on a quiet topic; `poll` returns with the
    first one, and the rest of the batch is taken without waiting.
    """
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    return [first, *consumer.consume(_BATCH - 1, timeout=0)]


def _to_record(message: Message) -> Record:
    key = message.key()
    value = message.value()
    _kind, timestamp = message.timestamp()
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    assert topic is not None and partition is not None and offset is not None
    return Record(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key.decode(errors="replace") if isinstance(key, bytes) else key,
        value=value if isinstance(value, bytes) else b"",
        timestamp_ms=int(timestamp),
        headers=_headers(message),
    )


def _headers(message: Message) -> dict[str, str]:
    raw = message.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    return {
        name: value.decode(errors="replace") if isinstance(value, bytes) else (value or "")
        for name, value in pairs
    }


def read_all(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = True,
    until_end: bool = True,
    timeout_s: float = 30.0,
) -> Iterator[Record]:
    """Yield the records of `topic`, partition by partition in offset order.

    With `until_end`, the end is the high watermark captured when reading starts: records
    written meanwhile are not waited for, so the read always finishes. `timeout_s` bounds
    the wait for the next record (not the whole read, which may be long for a big topic).
    Without `until_end`, keeps following like `tail`.
    """
    if not until_end:
        yield from tail(bootstrap, [topic], from_beginning=from_beginning, stop=None)
        return
    if not from_beginning:
        return  # from the end up to the end: nothing, by definition
    consumer = _consumer(bootstrap)
    try:
        ends = _end_offsets(consumer, bootstrap, topic, timeout_s)
        pending = {p for p, end in ends.items() if end > 0}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in sorted(pending)])
        last_progress = time.monotonic()
        while pending:
            messages = _next_batch(consumer, 0.2)
            if messages:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > timeout_s:
                raise LogTimeoutError(
                    f"reading {topic!r} on {bootstrap}: no record for "
                    f"{timeout_s:.0f} s, partitions {sorted(pending)} short "
                    f"of their end {ends}"
                )
            for message in messages:
                partition, offset = message.partition(), message.offset()
                assert partition is not None and offset is not None
                if partition not in pending:
                    continue  # past its captured end
                error = message.error()
                if error is not None:
                    # EOF also covers ends made of transaction markers, never delivered.
                    if error.code() == KafkaError._PARTITION_EOF:
                        if offset >= ends[partition]:
                            pending.discard(partition)
                        continue
                    raise LogError(f"reading {topic!r}[{partition}] on {bootstrap}: {error.str()}")
                if offset >= ends[partition]:
                    pending.discard(partition)
                    continue
                yield _to_record(message)
                if offset >= ends[partition] - 1:
                    pending.discard(partition)
    finally:
        consumer.close()


def tail(
    bootstrap: str,
    topics: list[str],
    *,
    from_beginning: bool,
    stop: threading.Event | None = None,
    timeout_s: float = 10.0,
    poll_s: float = 0.1,
) -> Iterator[Record]:
    """Follow `topics` until `stop` is set (or the caller stops iterating).

    Partitions are those that exist when tailing starts; a topic's later partitions are
    not followed. `poll_s` bounds how late a `stop` is noticed.
    """
    consumer = _consumer(bootstrap)
    try:
        start = OFFSET_BEGINNING if from_beginning else OFFSET_END
        assignment = [
            TopicPartition(topic, p, start)
            for topic in dict.fromkeys(topics)
            for p in _partitions(consumer, bootstrap, topic, timeout_s)
        ]
        consumer.assign(assignment)
        while stop is None or not stop.is_set():
            for message in _next_batch(consumer, poll_s):
                error = message.error()
                if error is None:
                    yield _to_record(message)
                elif error.code() != KafkaError._PARTITION_EOF:
                    raise LogError(
                        f"tailing {message.topic()!r}[{message.partition()}] on "
                        f"{bootstrap}: {error.str()}"
                    )
    finally:
        consumer.close()


__all__ = ["Record", "end_offsets", "read_all", "tail"]
