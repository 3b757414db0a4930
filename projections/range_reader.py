"""Read exact offset ranges of several topics in batches: the rebuild's consumer.

Like streams.log.reader, it assigns partitions and never joins a group or commits, so a
rebuild cannot disturb the live indexer's group. Unlike `read_all`, the caller chooses
both ends of every partition's range (from zero to a captured end, then from there to a
later end) and gets batches of RawRecord, the live indexer's own input type. Prefetch is
bounded, so memory stays flat however long the log is.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Mapping

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from projections.batch import RawRecord
from streams.log.client_logging import kafka_logging
from streams.log.errors import LogError, LogTimeoutError, UnknownTopicError

log = logging.getLogger(__name__)

Partition = tuple[str, int]
Offsets = dict[Partition, int]

BATCH_RECORDS = 1000


def _consumer(bootstrap: str) -> Consumer:
    return Consumer(
        {
            "bootstrap.servers": bootstrap,
            # Required by the client even though nothing joins a group or commits.
            "group.id": f"lanner-rebuild-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            # Records deleted by retention since the ends were read: start at what is left.
            "auto.offset.reset": "earliest",
            "queued.max.messages.kbytes": 16 * 1024,
            "fetch.wait.max.ms": 50,
            **kafka_logging(),
        }
    )


def watermarks(
    bootstrap: str, topics: list[str], timeout_s: float = 10.0
) -> tuple[Offsets, Offsets]:
    """(low, high) watermarks of every partition of `topics`, read now."""
    consumer = _consumer(bootstrap)
    try:
        lows: Offsets = {}
        highs: Offsets = {}
        metadata = consumer.list_topics(timeout=timeout_s)
        for topic in topics:
            found = metadata.topics.get(topic)
            if found is None:
                raise UnknownTopicError(topic, bootstrap)
            if found.error is not None:
                raise LogError(f"metadata of topic {topic!r}: {found.error.str()}")
            for partition in sorted(found.partitions):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout_s, cached=False
                )
                lows[(topic, partition)] = int(low)
                highs[(topic, partition)] = int(high)
        return lows, highs
    finally:
        consumer.close()


def remaining(starts: Mapping[Partition, int], ends: Mapping[Partition, int]) -> int:
    """How many offsets lie between `starts` and `ends` (an upper bound on the records:
    transaction markers take offsets too)."""
    return sum(max(0, end - starts.get(p, 0)) for p, end in ends.items())


def read_ranges(
    bootstrap: str,
    starts: Mapping[Partition, int],
    ends: Mapping[Partition, int],
    stop: threading.Event,
    *,
    batch: int = BATCH_RECORDS,
    timeout_s: float = 30.0,
) -> Iterator[list[RawRecord]]:
    """Yield the records of [starts[p], ends[p]) for every partition, in batches.

    Each partition's records come in offset order (records of different partitions
    interleave, which the projection allows: an execution lives on one partition).
    `timeout_s` bounds the wait for the next record, not the whole read.
    """
    pending = {p for p, end in ends.items() if end > starts.get(p, 0)}
    if not pending:
        return
    consumer = _consumer(bootstrap)
    try:
        consumer.assign([TopicPartition(t, p, starts.get((t, p), 0)) for t, p in sorted(pending)])
        last_progress = time.monotonic()
        while pending and not stop.is_set():
            first = consumer.poll(0.2)
            messages = [] if first is None else [first, *consumer.consume(batch - 1, timeout=0)]
            if messages:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > timeout_s:
                raise LogTimeoutError(
                    f"range read: no record for {timeout_s:.0f} s, partitions "
                    f"{sorted(pending)} short of their ends"
                )
            records = _in_range(messages, ends, pending)
            if records:
                yield records
    finally:
        consumer.close()


def _in_range(
    messages: list[Message], ends: Mapping[Partition, int], pending: set[Partition]
) -> list[RawRecord]:
    records: list[RawRecord] = []
    for message in messages:
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        assert topic is not None and partition is not None and offset is not None
        where = (topic, partition)
        if where not in pending:
            continue  # past its end: fetched ahead, not ours to project
        error = message.error()
        if error is not None:
            # EOF also covers ends made of transaction markers, never delivered.
            if error.code() == KafkaError._PARTITION_EOF:
                if offset >= ends[where]:
                    pending.discard(where)
                continue
            raise LogError(f"reading {topic!r}[{partition}]: {error.str()}")
        if offset >= ends[where]:
            pending.discard(where)
            continue
        records.append(RawRecord.of(message))
        if offset >= ends[where] - 1:
            pending.discard(where)
    return records


__all__ = ["Offsets", "Partition", "read_ranges", "remaining", "watermarks"]
